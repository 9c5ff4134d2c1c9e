#!/usr/bin/env bash
# Property-based tests of otp-local against its own OpenAPI document (openapi.json, served at
# /openapi.json): schemathesis generates requests from the document, valid and invalid, for every
# operation, and checks each reply: no 5xx, a documented status, the documented content type,
# headers and body schema, and 405 with a correct Allow for the methods a path does not list.
# Three runs on one otp-local: the public and otp-local-only routes as a browser calls them (no
# credentials); the server routes (/v1/server/…) as the app's backend calls them, with
# `Authorization: Bearer <server key>`; and the server routes without the key.
# Installs schemathesis into .venv when it is missing (pinned in tests/requirements.txt).
# Seeded, and bounded in examples per operation, so a run is reproducible and takes a few minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

schemathesis="$root/.venv/bin/schemathesis"
if [ ! -x "$schemathesis" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
fi

work=$(mktemp -d)
source tests/otp-local.sh
trap 'kill "${otp_local_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
# The key the server routes take; otp-local reads it from its environment (start_otp_local passes
# ours on). Random per run: it is this run's backend credential, and nothing else knows it.
OTP_LOCAL_SERVER_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
export OTP_LOCAL_SERVER_KEY
# The in-memory store and the outbox, as the README's first walkthrough runs it.
start_otp_local "$work/otp-local.log"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,allow_header_conformance
server_routes='^/v1/server/'

# run NAME ARGS...: one schemathesis run against this otp-local, its JUnit report in
# target/schemathesis-NAME-junit.xml; its exit status is added to $status.
# --url: the document's servers name port 3000 and AWS; test this otp-local.
# No example database: every run starts from the seed alone. One worker: CPython 3.11's ast.parse,
# which hypothesis calls, is not thread-safe ("AST constructor recursion depth mismatch").
# Run from $work: schemathesis keeps a .schemathesis/ cache in the current directory.
status=0
run() {
  local name=$1
  shift
  echo "== schemathesis: $name"
  (cd "$work" && "$schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    --url "http://127.0.0.1:$port" \
    --max-examples 100 \
    --seed 20240501 \
    --generation-database none \
    --workers 1 \
    --no-color \
    --report junit --report-junit-path "$root/target/schemathesis-$name-junit.xml" \
    "$@") \
    || status=1
}

# A browser: the public routes and otp-local's own, no credentials.
run public --exclude-path-regex "$server_routes" --checks "$checks"
# The app's backend: the server routes with the key; ignored_auth sends each accepted request
# again without the key and with a wrong one, and wants 401 both times.
run server --include-path-regex "$server_routes" --checks "$checks,ignored_auth" \
  -H "Authorization: Bearer $OTP_LOCAL_SERVER_KEY"
# Anyone else on the server routes: no key. Each reply must still be documented (schemathesis
# warns "Authentication failed" when, as here, they were all 401).
run server-unauthenticated --include-path-regex "$server_routes" --checks "$checks" \
  --phases examples,coverage,fuzzing --max-examples 25
if [ "$status" -ne 0 ]; then
  echo "otp-local's log:"
  tail -n 50 "$work/otp-local.log"
fi
exit "$status"

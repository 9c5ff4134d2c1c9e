#!/usr/bin/env bash
# Property-based tests of otp-local against its own OpenAPI document (openapi.json, served at
# /openapi.json): schemathesis generates requests from the document, valid and invalid, for every
# operation, and checks each reply: no 5xx, a documented status, the documented content type,
# headers and body schema, and 405 with a correct Allow for the methods a path does not list.
# Needs schemathesis in .venv (pinned in tests/requirements.txt; tests/run.sh installs it).
# Seeded, and bounded in examples per operation, so a run is reproducible and takes a minute or two.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

schemathesis="$root/.venv/bin/schemathesis"
[ -x "$schemathesis" ] || { echo "schemathesis is not in .venv: .venv/bin/pip install -r tests/requirements.txt"; exit 1; }

work=$(mktemp -d)
source tests/otp-local.sh
trap 'kill "${otp_local_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
# The in-memory store and the outbox, as the README's first walkthrough runs it.
start_otp_local "$work/otp-local.log"

# --url: the document's servers name port 3000 and AWS; test this otp-local.
# No example database: every run starts from the seed alone. One worker: CPython 3.11's ast.parse,
# which hypothesis calls, is not thread-safe ("AST constructor recursion depth mismatch").
# Run from $work: schemathesis keeps a .schemathesis/ cache in the current directory.
status=0
(cd "$work" && "$schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  --url "http://127.0.0.1:$port" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,allow_header_conformance \
  --max-examples 100 \
  --seed 20240501 \
  --generation-database none \
  --workers 1 \
  --no-color \
  --report junit --report-junit-path "$root/target/schemathesis-junit.xml") \
  || status=$?
if [ "$status" -ne 0 ]; then
  echo "otp-local's log:"
  tail -n 50 "$work/otp-local.log"
fi
exit "$status"

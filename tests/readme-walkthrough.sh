#!/usr/bin/env bash
# Runs the README's curl walkthrough, exactly as written, against a fresh otp-local on a free port
# (the one substitution: 127.0.0.1:3000 → that port), and checks the code is approved.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

cargo build --locked -q -p otp-local
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
"$root/target/debug/otp-local" --addr "127.0.0.1:$port" >"$work/otp-local.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/_local/outbox" && break
  sleep 0.1
done

sed -n '/<!-- walkthrough:start -->/,/<!-- walkthrough:end -->/p' README.md \
  | sed -n '/^```sh$/,/^```$/p' | grep -v '^```' \
  | sed "s/127\.0\.0\.1:3000/127.0.0.1:$port/g" >"$work/walkthrough.sh"
[ -s "$work/walkthrough.sh" ] || { echo "README walkthrough not found"; exit 1; }

(cd "$work" && bash -euo pipefail walkthrough.sh) >"$work/out.txt"
cat "$work/out.txt"
echo
grep -q '"status":"approved"' "$work/out.txt" || { echo "walkthrough: no approval"; cat "$work/otp-local.log"; exit 1; }
grep -q '"status":"consumed"' "$work/out.txt" || { echo "walkthrough: replay not refused"; exit 1; }
if grep -q 'OTP_SECRET is not set' "$work/otp-local.log"; then :; else echo "otp-local did not announce its ephemeral key"; exit 1; fi
echo "1 passed, 0 failed: README walkthrough"

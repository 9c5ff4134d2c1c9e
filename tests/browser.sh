#!/usr/bin/env bash
# The demo page (otp-local's `/`) in a real browser: Debian's Chromium driven by playwright-core
# (pinned in tests/browser/package-lock.json), against a fresh otp-local on a free port.
# Installs chromium (and node/npm) with apt when missing. A failing test leaves a screenshot in
# target/browser-failure-<name>.png. Arguments are test names to run only those.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

# playwright-core only (it downloads no browser of its own), at the version package-lock.json pins.
installed=$(node -p 'require("./tests/browser/node_modules/playwright-core/package.json").version' 2>/dev/null || true)
pinned=$(node -p 'require("./tests/browser/package-lock.json").packages["node_modules/playwright-core"].version')
if [ "$installed" != "$pinned" ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

mkdir -p target
log="$root/target/browser-otp-local.log"
source tests/otp-local.sh
trap 'kill "${otp_local_pid:-}" 2>/dev/null || true' EXIT
# A 2-second resend cooldown: "Call me instead" (a resend) is tried too soon, then in time.
OTP_RESEND_COOLDOWN_SECONDS=2 start_otp_local "$log"

node tests/browser/run.mjs "http://127.0.0.1:$port/" "$@" || { echo "otp-local's log: $log"; exit 1; }

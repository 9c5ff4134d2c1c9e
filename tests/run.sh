#!/usr/bin/env bash
# The whole test suite: unit, handler and integration tests, then the README's curl walkthrough
# against a real otp-local. Installs what it needs that a fresh machine may lack.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

cargo test --workspace --locked
bash tests/readme-walkthrough.sh

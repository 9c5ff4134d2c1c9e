#!/usr/bin/env bash
# The whole test suite. Installs what a fresh machine may lack (curl, jq and oathtool from Debian; the AWS
# emulator, moto, into a project-local venv), starts the emulator on a free port and stops it after.
#   1. unit, handler and integration tests (scenarios on the in-memory store and outbox, and the
#      AWS adapters' own tests against the emulator);
#   2. every integration scenario again, on DynamoDB, SNS and SES (the emulator), then every log line
#      both runs wrote checked against every destination, code and secret they used;
#   3. the README's walkthroughs against a real otp-local: in memory, on the AWS adapters, and the
#      authenticator-app one (codes from oathtool, an independent TOTP implementation).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need=()
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
command -v oathtool >/dev/null || need+=(oathtool)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

# The emulator, in .venv (pinned in tests/requirements.txt).
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt

mkdir -p target
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/python tests/emulator.py -H 127.0.0.1 -p "$port" >target/emulator.log 2>&1 &
emulator_pid=$!
trap 'kill "$emulator_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/data.json" && break
  kill -0 "$emulator_pid" 2>/dev/null || { echo "the emulator did not start:"; cat target/emulator.log; exit 1; }
  sleep 0.2
done

# The SDK's standard variables point every client at the emulator; nothing reads ~/.aws.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_CONFIG_FILE="$root/target/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$root/target/no-aws-credentials"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECRET_ARN OTP_SECRET_ARN

# Both runs leave their log lines and the values they used in target/log-audit; the last step checks
# that no line of the whole suite carries any of them.
rm -rf target/log-audit
cargo test --workspace --locked
OTP_TEST_BACKEND=aws cargo test --locked -p otp-tests --test api -- --skip aws::
cargo test --locked -p otp-tests --test api -- --ignored --exact logs::no_log_line_of_the_whole_suite_carries_a_code_secret_or_address
bash tests/readme-walkthrough.sh memory
bash tests/readme-walkthrough.sh aws
bash tests/readme-walkthrough.sh totp
bash tests/schemathesis.sh
bash tests/browser.sh

#!/usr/bin/env bash
# The whole test suite. Installs what a fresh machine may lack (curl, jq and oathtool from Debian; the AWS
# emulator, moto, into a project-local venv), starts the emulator on a free port and stops it after.
#   1. unit, handler, property and integration tests (scenarios on the in-memory store and outbox, the
#      AWS adapters' own tests against the emulator, and AWS faults injected between the SDK and the
#      emulator by a proxy);
#   2. every integration scenario again, on DynamoDB, SNS and SES (the emulator), then every log line
#      both runs wrote checked against every destination, code and secret they used; both runs record
#      each function's AWS calls in target/aws-calls.jsonl for infra/check-template.py;
#   3. the walkthroughs (README.md, docs/walkthroughs.md) against a real otp-local: in memory, on the
#      AWS adapters, a call (voice), and the authenticator-app one (codes from oathtool, an independent TOTP
#      implementation);
#   4. coverage-guided fuzzing of every input surface, FUZZ_SECONDS (default 60) per target.
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

# The emulator on a free port, the SDK's variables pointing at it; stopped when this script exits.
source tests/emulator.sh
start_emulator target/emulator.log

# Both runs leave their log lines and the values they used in target/log-audit; the last step checks
# that no line of the whole suite carries any of them.
rm -rf target/log-audit
# Both runs also record every AWS call each function makes (tests/api/calls.rs), for
# infra/check-template.py (run after this script by .ci/run) to hold to that function's IAM policy.
export OTP_TEST_AWS_CALLS="$root/target/aws-calls.jsonl"
rm -f "$OTP_TEST_AWS_CALLS"
cargo test --workspace --locked
# The module checker's own tests (a cycle, an import from crypto up to config, a long file all fail),
# and the crate held to it.
python3 -m unittest discover -s tests -p 'test_check_modules.py'
.venv/bin/python -m unittest discover -s tests -p 'test_sms_voice_v2.py'
# The emulator's DynamoDB contention model (its own emulators; the one above runs without it).
.venv/bin/python -m unittest discover -s tests -p 'test_dynamodb_contention.py'
# The operator's profiles, as a deploy would load them (refused with the profile and field named).
cargo run -q --locked -p otp-local -- check-profiles profiles.json
cargo run -q --locked -p otp-local -- check-profiles examples/profiles.json
OTP_TEST_BACKEND=aws cargo test --locked -p otp-tests --test api -- --skip aws:: --skip faults::
# No item every send writes (shared counters in shards): 2,200 sends through DynamoDB, alone.
OTP_TEST_BACKEND=aws cargo test --locked -p otp-tests --test api -- --ignored --exact --nocapture \
  hot_items::no_item_outside_the_destinations_own_takes_more_than_its_shards_share_of_the_sends
cargo test --locked -p otp-tests --test api -- --ignored --exact logs::no_log_line_of_the_whole_suite_carries_a_code_secret_or_address
bash tests/readme-walkthrough.sh memory
bash tests/readme-walkthrough.sh aws
bash tests/readme-walkthrough.sh totp
bash tests/readme-walkthrough.sh voice
bash tests/fuzz.sh
bash tests/schemathesis.sh
bash tests/browser.sh

#!/usr/bin/env bash
# Bounded soak (issue 8): mixed traffic at otp-local on the AWS emulator for a fixed time.
#
#   bash bench/soak/run.sh                     300 s, otp-local built with --release
#   SOAK_SECONDS=45 SOAK_PROFILE=dev bash bench/soak/run.sh     a short run on the debug build
#
# otp-local runs with --store dynamodb --delivery aws --create-table against bench/soak/emulator.py
# (the test emulator's moto, changed so that its cost does not grow with the table; see there). The
# soak always starts that emulator of its own and ignores any AWS_ENDPOINT_URL, since on the test emulator a send slows with every item in the table, 0.3 s at 1,000 items, and
# its codes can only be read from /moto-api/data.json, which took 74 s after 500 sends. otp-local gets
# a fixed OTP_SECRET and the per-client, per-country, global and budget limits raised, since all the
# traffic comes from 127.0.0.1; the cooldown, the per-destination cap, attempts and the TOTP lock keep
# working (the cooldown shortened to 5 s, so resends happen within a short run). SOAK_WORKERS
# threads (bench/soak/soak.py) send SMS and email codes, resend, verify them right, wrong, replaced,
# replayed and unknown, enrol authenticators and verify their codes, and send malformed bodies,
# checking every status; otp-local's RSS is sampled every SOAK_SAMPLE_SECONDS.
#
# Writes target/soak/report.md and target/soak/report.json (printed at the end) and
# target/soak/otp-local.log. Exits 1 on any 5xx, transport error, unexpected status, error logged by
# otp-local, or RSS growth after the warm-up over the limit (soak.py says which and why).
#
# Knobs: SOAK_SECONDS (300), SOAK_WORKERS (8), SOAK_WARMUP (a third of the run, at most 30 s),
# SOAK_SAMPLE_SECONDS (2), SOAK_PROFILE (release; dev reuses the test suite's debug build),
# SOAK_RSS_GROWTH_LIMIT_KIB (1024).
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
here=bench/soak
seconds=${SOAK_SECONDS:-300}
workers=${SOAK_WORKERS:-8}
warmup=${SOAK_WARMUP:-$(python3 -c "print(min(30, $seconds / 3))")}
sample=${SOAK_SAMPLE_SECONDS:-2}
profile=${SOAK_PROFILE:-release}
soak="$root/target/soak"
log="$soak/otp-local.log"
mkdir -p "$soak"
rm -f "$soak/report.md" "$soak/report.json"

emulator_pid=""
server_pid=""
stop() {
  # Each process by its PID, otp-local first (it talks to the emulator).
  local pid
  for pid in "$server_pid" "$emulator_pid"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap stop EXIT

# 1. otp-local, and a copy of it, so that a build in the same target directory cannot swap it.
if [ "$profile" = release ]; then
  cargo build --release --locked -p otp-local
  built="$target_dir/release/otp-local"
else
  cargo build --locked -q -p otp-local
  built="$target_dir/debug/otp-local"
fi
bin="$soak/otp-local-soak"
cp "$built" "$bin"

# 2. The emulator (moto from tests/requirements.txt, in the project's .venv) on a free port.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
py=.venv/bin/python
# Its rollback change first, in process: a soak on an emulator that half-applies a refused
# transaction would check nothing.
env -i PATH="$PATH" $py $here/emulator.py --check
emulator="http://127.0.0.1:$($py $here/soak.py port)"
aws_env=(
  AWS_ENDPOINT_URL="$emulator" AWS_REGION=us-east-1
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  AWS_CONFIG_FILE="$root/target/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$root/target/no-aws-credentials"
)
env "${aws_env[@]}" $py $here/emulator.py -H 127.0.0.1 -p "${emulator##*:}" >"$soak/emulator.log" 2>&1 &
emulator_pid=$!
$py $here/soak.py wait "$emulator/moto-api/data.json" 60 "$emulator_pid" || { cat "$soak/emulator.log" >&2; exit 1; }
env "${aws_env[@]}" $py $here/soak.py setup "$emulator"

# 3. otp-local on a free port: nothing from the caller's environment (env -i) but PATH.
server_env=(
  PATH="$PATH"
  RUST_LOG=info
  "${aws_env[@]}"
  OTP_SECRET=soak-test-secret-not-for-production-0123456789
  OTP_EMAIL_FROM=no-reply@example.com
  OTP_CLIENT_SENDS_PER_HOUR=1000000
  OTP_COUNTRY_SMS_PER_HOUR=1000000
  OTP_GLOBAL_SMS_PER_HOUR=10000000
  OTP_GLOBAL_EMAIL_PER_HOUR=10000000
  OTP_SMS_DAILY_BUDGET=1000000
  OTP_RESEND_COOLDOWN_SECONDS=5
)
port=$($py $here/soak.py port)
url="http://127.0.0.1:$port"
env -i "${server_env[@]}" "$bin" --addr "127.0.0.1:$port" --store dynamodb --delivery aws \
  --create-table --table soak >"$log" 2>&1 &
server_pid=$!
$py $here/soak.py wait "$url/openapi.json" 60 "$server_pid" || { tail -20 "$log" >&2; exit 1; }

# 4. The traffic, the checks and the report.
echo "soak: $workers workers for $seconds s against $url (otp-local $profile build, PID $server_pid)"
status=0
env "${server_env[@]}" SOAK_PROFILE="$profile" \
  $py $here/soak.py run "$url" "$emulator" "$server_pid" "$emulator_pid" "$seconds" "$workers" "$warmup" "$sample" \
  "$log" "$soak" || status=$?
exit "$status"

# Sourced by tests/run.sh and the bench scripts, from the repo root:
#   start_emulator LOG   installs the AWS emulator (moto, pinned in tests/requirements.txt) into .venv,
#                        starts tests/emulator.py on a free 127.0.0.1 port with its output in LOG,
#                        waits until it answers, points the SDK's standard variables at it (nothing
#                        reads ~/.aws) and stops it by PID when the calling script exits (EXIT trap).
# Sets emulator_pid and AWS_ENDPOINT_URL.
start_emulator() { # start_emulator LOG [SCRIPT]: SCRIPT is tests/emulator.py unless given
  local log=$1 script=${2:-tests/emulator.py} port
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
  mkdir -p "$(dirname "$log")" target
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/python "$script" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  emulator_pid=$!
  trap 'kill "$emulator_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/data.json" && break
    kill -0 "$emulator_pid" 2>/dev/null || { echo "the emulator did not start:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.2
  done
  curl -sf -o /dev/null "http://127.0.0.1:$port/moto-api/data.json" \
    || { echo "the emulator did not answer in 30 s:" >&2; cat "$log" >&2; exit 1; }

  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_CONFIG_FILE="$PWD/target/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$PWD/target/no-aws-credentials"
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECRET_ARN OTP_SECRET_ARN
}

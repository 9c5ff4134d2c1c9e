# Sourced by the bench/*.sh scripts: the repo root as cwd, where results go, a free port, and the AWS
# emulator (the test suite's own, from the project venv) started on 127.0.0.1 and stopped by PID.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$root/target/bench"
mkdir -p "$out"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the emulator and exports the SDK's standard variables pointing at it; the caller's EXIT trap
# must call stop_emulator.
start_emulator() {
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
  emulator_port=$(free_port)
  .venv/bin/python tests/emulator.py -H 127.0.0.1 -p "$emulator_port" >"$out/emulator.log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "http://127.0.0.1:$emulator_port/moto-api/data.json" && break
    kill -0 "$emulator_pid" 2>/dev/null || { echo "the emulator did not start:"; cat "$out/emulator.log"; exit 1; }
    sleep 0.2
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$emulator_port"
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_CONFIG_FILE="$root/target/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$root/target/no-aws-credentials"
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECRET_ARN OTP_SECRET_ARN
}

stop_emulator() {
  [ -n "${emulator_pid:-}" ] && kill "$emulator_pid" 2>/dev/null || true
}

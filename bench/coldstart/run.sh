#!/usr/bin/env bash
# The cold-start benchmark (issue 7): builds the three release bootstraps, sets up the Node.js and
# Python floors and the AWS emulator, runs harness.py and leaves target/bench/coldstart.{json,md}
# and per-candidate logs in target/bench/coldstart-logs/.
# Timings are reported, never asserted: a missed budget exits 0; a failed run (an init error, a non-2xx)
# exits 1. Extra arguments go to the harness, e.g. `--runs 5`.
#
# Needs the Rust toolchain, python3 (3.11+) and node/npm; installs the rest from crates.io, PyPI and
# npm. Everything it starts listens on 127.0.0.1 and is stopped on exit.
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
bench=bench/coldstart

# COLDSTART_BASELINE=REV: also otp-send as built at that commit (from a worktree of it, in the same
# target directory, before this checkout's build), in rows of its own: a before and after.
baseline_args=()
if [ -n "${COLDSTART_BASELINE:-}" ]; then
  echo "== building otp-send at $COLDSTART_BASELINE, the baseline" >&2
  baseline_src="$out/coldstart-baseline-src"
  git worktree remove --force "$baseline_src" 2>/dev/null || rm -rf "$baseline_src"
  git worktree add --detach "$baseline_src" "$COLDSTART_BASELINE" >&2
  built=0
  (cd "$baseline_src" && CARGO_TARGET_DIR="$target_dir" cargo build --release --locked -p otp-send) && built=1
  mkdir -p "$out/coldstart-baseline"
  [ "$built" = 1 ] && cp "$target_dir/release/otp-send" "$out/coldstart-baseline/otp-send"
  git worktree remove --force "$baseline_src"
  [ "$built" = 1 ] || { echo "the baseline did not build" >&2; exit 1; }
  baseline_args=(--baseline-dir "$out/coldstart-baseline"
    --baseline-label "before ($(git rev-parse --short "$COLDSTART_BASELINE"))")
fi

echo "== building the release bootstraps" >&2
cargo build --release --locked -p otp-send -p otp-verify -p otp-enroll

echo "== the floors: boto3 in $bench/.venv, @aws-sdk/client-dynamodb in $bench/node" >&2
[ -x "$bench/.venv/bin/python" ] || python3 -m venv "$bench/.venv"
"$bench/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$bench/requirements.txt"
(cd "$bench/node" && npm ci --silent --no-audit --no-fund)

echo "== the AWS emulator (moto, pinned in tests/requirements.txt)" >&2
# The soak's: the test emulator's moto with a transaction's cost independent of the table's size
# (moto's own copies the whole table per transaction item, and the hundreds of sends seeding
# otp-verify's challenges would slow every later send, up to the SDK's timeouts).
start_emulator "$out/coldstart-emulator.log" bench/soak/emulator.py
emulator=$AWS_ENDPOINT_URL

# The table and the service secret the functions read (a fresh random secret for this run only).
"$bench/.venv/bin/python" "$bench/setup_emulator.py" --endpoint "$emulator" >"$out/coldstart-setup.json"

echo "== measuring" >&2
python3 "$bench/harness.py" \
  --emulator "$emulator" \
  --setup "$out/coldstart-setup.json" \
  --release-dir "$target_dir/release" \
  --venv-python "$root/$bench/.venv/bin/python" \
  --out "$out" \
  "${baseline_args[@]}" \
  "$@"

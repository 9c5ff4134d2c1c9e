#!/usr/bin/env bash
# Scale benchmark (issue 22, item 4): SMS sends on otp-local's DynamoDB adapters against the AWS
# emulator with its DynamoDB contention model, before and after the sharded counters, at 1 / 16 / 64 /
# 256 concurrent senders to distinct destinations. A long run: not part of tests/run.sh.
#
#   bash bench/scale/run.sh           ~3.5 minutes after the build (8 runs of 2 + 20 s, plus start-ups)
#   SCALE_HOLDS="20 10" bash bench/scale/run.sh        also at a 10 ms hold (the model's sensitivity)
#
# before = OTP_COUNTER_SHARDS=1: each shared counter (SMS per hour in all and per country, the day's
# spend) one item, which every SMS send writes, as before issue 22; after = OTP_COUNTER_SHARDS=16 (the
# default). Same binary, same code otherwise.
#
# The emulator is bench/soak/emulator.py (the test emulator's moto, one request at a time, with its
# transactions' cost independent of the table's size) with OTP_EMULATOR_CONTENTION=1: a committed
# transaction holds its items SCALE_HOLD ms, a transaction meeting a held item is cancelled
# (TransactionConflict), each item takes 1,000 write units a second (tests/dynamodb_contention.py).
# One emulator per hold; for each senders level, before then after: a fresh otp-local (--store dynamodb
# --delivery aws: SNS on the emulator "sends" the SMS), a table of its own, the model's state reset,
# then bench/scale/scale.py's senders for SCALE_WARMUP s uncounted and SCALE_DURATION s counted. Each
# sender sends from a client address of its own (127.1.x.y) to a new +44 71… number each time.
# otp-local's limits are raised so that nothing but contention refuses a send.
#
# Writes target/bench/scale.json (every run's raw figures), target/bench/scale.md (its section of
# BENCHMARKS.md with the side-by-side tables, printed at the end; bench/run.sh puts it in),
# target/bench/scale-runs/ (each run's JSON and otp-local log) and target/bench/scale-emulator-*.log.
#
# Knobs: SCALE_LEVELS ("1 16 64 256"), SCALE_DURATION (20), SCALE_WARMUP (2), SCALE_HOLDS ("20"),
# SCALE_ITEM_WRITE_UNITS (1000), SCALE_SHARDS_AFTER (16), SCALE_RUST_LOG (info), SCALE_DELIVERY (aws;
# outbox keeps the messages in otp-local, sparing the emulator SNS's Publish, one of a send's three
# requests to it), SCALE_BIN (an otp-local release binary to use instead of building one, e.g. a copy
# made by an earlier run, when another build is using the target directory).
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
here=bench/scale
runs="$out/scale-runs"
levels=${SCALE_LEVELS:-1 16 64 256}
duration=${SCALE_DURATION:-20}
warmup=${SCALE_WARMUP:-2}
holds=${SCALE_HOLDS:-20}
item_units=${SCALE_ITEM_WRITE_UNITS:-1000}
shards_after=${SCALE_SHARDS_AFTER:-16}
rust_log=${SCALE_RUST_LOG:-info}
delivery=${SCALE_DELIVERY:-aws}
rm -rf "$runs"
mkdir -p "$runs"
started=$(date +%s)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git rev-parse --short HEAD)
# (This script's own outputs, and BENCHMARKS.md, are not changes to what is measured.)
[ -z "$(git status --porcelain -- . ':!BENCHMARKS.md')" ] || commit="$commit (with uncommitted changes)"

emulator_pid=""
server_pid=""
driver_pid=""
stop_pid() { # stop_pid PID: stops a process this script started, by its PID
  if [ -n "$1" ]; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
stop_all() {
  # The driver, then otp-local (it talks to the emulator), then the emulator.
  stop_pid "$driver_pid"
  stop_pid "$server_pid"
  stop_pid "$emulator_pid"
}
trap stop_all EXIT

# 1. otp-local, release build, and a copy, so that a build in the same target directory during the
# run cannot swap the binary. Another checkout of the project building into the same target directory
# (CARGO_TARGET_DIR shared between git worktrees) puts its otp-local at the same path, so the copy is
# checked: cargo, asked again, must find this checkout's otp-local up to date and the copy the same file.
fresh_otp_local() { # prints true if cargo finds this checkout's otp-local binary up to date
  cargo build --release --locked -p otp-local --message-format=json 2>/dev/null | python3 -c '
import json, sys
fresh = [m["fresh"] for m in map(json.loads, sys.stdin) if m.get("reason") == "compiler-artifact"
         and m["target"]["name"] == "otp-local" and "bin" in m["target"]["kind"]]
print(str(fresh == [True]).lower())'
}
if [ -n "${SCALE_BIN:-}" ]; then
  bin=$SCALE_BIN
else
  bin="$out/otp-local-scale"
  for try in 1 2 3; do
    cargo build --release --locked -p otp-local
    cp "$target_dir/release/otp-local" "$bin"
    if [ "$(fresh_otp_local)" = true ] && cmp -s "$target_dir/release/otp-local" "$bin"; then
      break
    fi
    [ "$try" -lt 3 ] || { echo "otp-local: another build kept replacing the binary" >&2; exit 1; }
    echo "otp-local: another build replaced the binary meanwhile; building again"
  done
fi

# 2. The emulator's Python (moto, pinned in tests/requirements.txt) in the project's .venv.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/requirements.txt
py=.venv/bin/python
# bench/soak/emulator.py's rollback change, checked in process first.
env -i PATH="$PATH" $py bench/soak/emulator.py --check

emulator=""
aws_env=()
start_emulator_at() { # start_emulator_at HOLD_MS
  local port
  port=$(python3 "$here/scale.py" port)
  emulator="http://127.0.0.1:$port"
  aws_env=(
    AWS_ENDPOINT_URL="$emulator" AWS_REGION=us-east-1
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
    AWS_CONFIG_FILE="$root/target/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$root/target/no-aws-credentials"
  )
  env -i PATH="$PATH" "${aws_env[@]}" OTP_EMULATOR_CONTENTION=1 OTP_EMULATOR_HOLD_MS="$1" \
    OTP_EMULATOR_ITEM_WRITE_UNITS="$item_units" \
    $py bench/soak/emulator.py -H 127.0.0.1 -p "$port" >"$out/scale-emulator-$1ms.log" 2>&1 &
  emulator_pid=$!
  python3 "$here/scale.py" wait "$emulator/_contention/stats" 60 "$emulator_pid" || {
    cat "$out/scale-emulator-$1ms.log" >&2
    exit 1
  }
}

# The environment of every otp-local: nothing from the caller's (env -i); the per-client, per-country
# and global SMS limits and the day's budget raised to their maxima (shared/src/config/variables.rs),
# so that nothing but contention refuses; a fixed secret and server key.
server_env=(
  PATH="$PATH"
  RUST_LOG="$rust_log"
  OTP_SECRET=scale-benchmark-secret-not-for-production-0123456789
  OTP_LOCAL_SERVER_KEY=scale-benchmark-server-key-0123456789
  OTP_EMAIL_FROM=no-reply@example.com
  OTP_CLIENT_SENDS_PER_HOUR=1000000
  OTP_COUNTRY_SMS_PER_HOUR=1000000
  OTP_GLOBAL_SMS_PER_HOUR=10000000
  OTP_SMS_DAILY_BUDGET=1000000
)

start_server() { # start_server TABLE LOG [VAR=VALUE…]: a fresh otp-local on a free port
  local table=$1 log=$2 port
  shift 2
  port=$(python3 "$here/scale.py" port)
  url="http://127.0.0.1:$port"
  env -i "${server_env[@]}" "${aws_env[@]}" "$@" "$bin" --addr "127.0.0.1:$port" \
    --store dynamodb --delivery "$delivery" --create-table --table "$table" >"$log" 2>&1 &
  server_pid=$!
  python3 "$here/scale.py" wait "$url/openapi.json" 60 "$server_pid" || {
    tail -20 "$log" >&2
    exit 1
  }
}

# 3. The runs.
for hold in $holds; do
  echo "=== hold $hold ms"
  start_emulator_at "$hold"
  for level in $levels; do
    for variant in before after; do
      if [ "$variant" = before ]; then shards=1; else shards=$shards_after; fi
      name="h$hold-$variant-$level"
      log="$runs/$name.log"
      start_server "scale-$name" "$log" OTP_COUNTER_SHARDS="$shards"
      python3 "$here/scale.py" run "$url" "$emulator" "$level" "$duration" "$warmup" "$log" \
        "$runs/$name.json" variant="$variant" shards="$shards" hold_ms="$hold" \
        item_write_units="$item_units" delivery="$delivery" \
        emulator_pid="$emulator_pid" server_pid="$server_pid" date="$when" commit="$commit" &
      driver_pid=$!
      wait "$driver_pid"
      driver_pid=""
      stop_pid "$server_pid"
      server_pid=""
    done
  done
  stop_pid "$emulator_pid"
  emulator_pid=""
done

# 4. The report.
python3 "$here/scale.py" report "$out/scale.json" "$out/scale.md" "$runs"/*.json
echo
cat "$out/scale.md"
echo "scale benchmark: $(($(date +%s) - started)) s in all on $(nproc) cores"

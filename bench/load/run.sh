#!/usr/bin/env bash
# Load on otp-local (issue 7): wrk against the release build, in-memory store, on this machine.
#
#   bash bench/load/run.sh        ~6 minutes after the build on 2 cores (more on a busy machine)
#
# Scenarios, each REPEATS times on a fresh server (WARMUP s of warm-up, then DURATION s timed, at
# CONNECTIONS connections from THREADS wrk threads; wrk shares the machine's cores with the server):
#   verify   verify-only: right-code approvals of challenges sent (to distinct email addresses, codes
#            read from the outbox) before the run; a fresh pool for each run, sized from the rate seen
#   pairs    send+verify pairs through test destinations (fixed code, no delivery, no limits)
#   send-email, send-sms
#            send-only to distinct real destinations: the full send path with outbox delivery
# Then single diagnostic runs (LOAD_DIAG_DURATION s): verify with a response() status tally (what the
# callback costs wrk, and the status words), verify at 16 connections (latency below saturation), and
# verify and send-email with RUST_LOG=warn (what per-request logging costs).
#
# Writes target/bench/load.json (every run's raw figures), target/bench/load.md (the report, printed at
# the end), target/bench/load-runs/ (wrk's outputs) and target/bench/load-otp-local.log (the log of the
# server last started). Timings are reported, never judged: a missed budget still exits 0.
#
# Knobs: LOAD_CONNECTIONS (64), LOAD_THREADS (1), LOAD_DURATION (10), LOAD_WARMUP (2), LOAD_REPEATS (3),
# LOAD_RUST_LOG (info), LOAD_DIAGNOSTICS (1; 0 skips the diagnostic runs), LOAD_DIAG_DURATION (5),
# LOAD_MAX_POOL (600000: most challenges made for one verify run).
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
here=bench/load
runs="$out/load-runs"
log="$out/load-otp-local.log"
connections=${LOAD_CONNECTIONS:-64}
threads=${LOAD_THREADS:-1}
duration=${LOAD_DURATION:-10}
warmup=${LOAD_WARMUP:-2}
repeats=${LOAD_REPEATS:-3}
rust_log=${LOAD_RUST_LOG:-info}
diagnostics=${LOAD_DIAGNOSTICS:-1}
diag_duration=${LOAD_DIAG_DURATION:-5}
max_pool=${LOAD_MAX_POOL:-600000}
run_connections=$connections
rust_log_now=$rust_log
rm -rf "$runs"
mkdir -p "$runs"

# 1. wrk, from Debian.
if ! command -v wrk >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y -qq wrk >/dev/null 2>&1 || {
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq wrk
  }
fi

# 2. otp-local, release build.
cargo build --release --locked -p otp-local
# A copy, so that a build in the same target directory during the run cannot swap the binary.
bin="$out/otp-local-load"
cp "$target_dir/release/otp-local" "$bin"

# The environment of every server: nothing from the caller's (env -i), limits raised to their maxima
# (Settings::VARIABLES in shared/src/config/variables.rs) since all the load comes from one client address,
# 127.0.0.1, and every send-only run sends 100 000s of SMS; a fixed secret (≥ 32 bytes); codes that
# outlive the pool's preparation (600 s, the most a profile may give a code).
server_env=(
  PATH="$PATH"
  RUST_LOG="$rust_log"
  OTP_SECRET=load-benchmark-secret-not-for-production-0123456789
  OTP_CLIENT_SENDS_PER_HOUR=1000000
  OTP_COUNTRY_SMS_PER_HOUR=1000000
  OTP_GLOBAL_SMS_PER_HOUR=10000000
  OTP_GLOBAL_EMAIL_PER_HOUR=10000000
  OTP_SMS_DAILY_BUDGET=1000000
  OTP_MAX_SENDS_PER_DESTINATION=1000
  OTP_RESEND_COOLDOWN_SECONDS=0
  OTP_DEFAULT_TTL_SECONDS=600
)
server_pid=""
url=""

start_server() { # start_server [VAR=VALUE…]: a fresh otp-local on a free port, its output in $log
  local port
  port=$(python3 "$here/load.py" port)
  url="http://127.0.0.1:$port"
  env -i "${server_env[@]}" "$@" "$bin" --addr "127.0.0.1:$port" >"$log" 2>&1 &
  server_pid=$!
  python3 "$here/load.py" wait "$url/openapi.json" 30 "$server_pid" || {
    tail -20 "$log" >&2
    exit 1
  }
}

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    # Anything the service logged at error level, or a panic, is counted in the report.
    echo "SERVER_ERRORS $(grep -c -E ' ERROR |panicked' "$log" || true)" >>"$runs/server-errors.txt"
    server_pid=""
  fi
}
trap stop_server EXIT

machine_cpu_ticks() { # busy and total ticks of all cores so far (/proc/stat)
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

server_cpu_ticks() { # user + system time of the server so far, in clock ticks
  awk '{ print $14 + $15 }' "/proc/$server_pid/stat"
}

run_wrk() { # run_wrk NAME SCENARIO KIND SECONDS SCRIPT [SCRIPT ARGS…]: one wrk run into $runs/NAME.txt
  local name=$1 scenario=$2 kind=$3 seconds=$4 script=$5
  shift 5
  local file="$runs/$name.txt" cpu_before log_before machine_before machine_after
  cpu_before=$(server_cpu_ticks)
  read -r -a machine_before <<<"$(machine_cpu_ticks)"
  log_before=$(stat -c %s "$log")
  {
    TIMEFORMAT='WRK_CPU %U %S'
    time wrk -t"$threads" -c"$run_connections" -d"${seconds}s" --latency -s "$here/$script" "$url" -- "$@"
  } >"$file" 2>&1
  read -r -a machine_after <<<"$(machine_cpu_ticks)"
  {
    echo "META scenario=$scenario kind=$kind seconds=$seconds connections=$run_connections rust_log=$rust_log_now"
    echo "SERVER_CPU $(($(server_cpu_ticks) - cpu_before)) $(getconf CLK_TCK)"
    echo "MACHINE_CPU $((machine_after[0] - machine_before[0])) $((machine_after[1] - machine_before[1]))"
    echo "LOG_BYTES $(($(stat -c %s "$log") - log_before))"
  } >>"$file"
  python3 "$here/load.py" brief "$file"
}

# 3a. verify-only. Each run approves challenges of its own, sent just before it: as many as the
# fastest verify rate measured so far would use (15 000/s before any was measured), with 50 % to spare.
pool_for() { # pool_for RATE SECONDS
  python3 -c "import math; print(min($max_pool, max(5000, math.ceil($1 * $2 * 1.5))))"
}
verify_run() { # verify_run NAME SCENARIO KIND SECONDS [tally]: one verify-only run on the running server
  local name=$1 scenario=$2 kind=$3 seconds=$4 tally=${5:-} attempt
  for attempt in 1 2 3; do
    python3 "$here/load.py" prepare "$url" "$runs/$name.pool" "$(pool_for "$rate" "$seconds")"
    run_wrk "$name" "$scenario" "$kind" "$seconds" verify.lua "$runs/$name.pool" "$threads" $tally
    rm -f "$runs/$name.pool"
    measured=$(python3 -c "print(max($measured, $(python3 "$here/load.py" rate "$runs/$name.txt")))")
    rate=$measured
    # A measured run whose pool ran out (the rate guessed from a cold warm-up was low) is run again
    # with a pool sized from its own rate, which the cheap "consumed" answers only overstate.
    [ "$kind" != warmup ] && [ "$(python3 "$here/load.py" reused "$runs/$name.txt")" -gt 0 ] || break
    echo "  (the pool ran out: again, with a larger one)"
  done
}

rate=15000 measured=0
echo "=== verify-only"
for r in $(seq 1 "$repeats"); do
  start_server
  verify_run "verify-$r-warm" verify warmup "$warmup"
  verify_run "verify-$r" verify timed "$duration"
  stop_server
done

# 3b. send+verify pairs through test destinations: as many as connections, so no one destination's
# send history grows long (the store checks a destination's recent sends on each send).
echo "=== send+verify pairs"
tests=$(python3 -c "print(','.join(f'load-pair-{k}@example.com=24681357' for k in range($connections)))")
for r in $(seq 1 "$repeats"); do
  start_server OTP_TEST_DESTINATIONS="$tests"
  run_wrk "pairs-$r-warm" pairs warmup "$warmup" pairs.lua "$connections" 24681357
  run_wrk "pairs-$r" pairs timed "$duration" pairs.lua "$connections" 24681357
  stop_server
done

# 3c. send-only to distinct real destinations, email then SMS.
for channel in email sms; do
  echo "=== send-only, $channel"
  for r in $(seq 1 "$repeats"); do
    start_server
    run_wrk "send-$channel-$r-warm" "send-$channel" warmup "$warmup" send.lua "$channel" 0
    run_wrk "send-$channel-$r" "send-$channel" timed "$duration" send.lua "$channel" 1
    stop_server
  done
done

# Diagnostics, one run each of DIAG_DURATION s.
if [ "$diagnostics" = 1 ]; then
  echo "=== diagnostics"
  start_server
  verify_run verify-tally-warm verify-tally warmup "$warmup"
  verify_run verify-tally verify-tally diagnostic "$diag_duration" tally
  run_connections=16
  verify_run verify-c16 verify-c16 diagnostic "$diag_duration"
  run_connections=$connections
  stop_server
  rust_log_now=warn
  start_server RUST_LOG=warn
  verify_run verify-warn-warm verify-warn warmup "$warmup"
  verify_run verify-warn verify-warn diagnostic "$diag_duration"
  stop_server
  start_server RUST_LOG=warn
  run_wrk send-email-warn-warm send-email-warn warmup "$warmup" send.lua email 0
  run_wrk send-email-warn send-email-warn diagnostic "$diag_duration" send.lua email 1
  stop_server
  rust_log_now=$rust_log
fi

# 4. The report.
python3 "$here/load.py" report "$runs" "$out/load.json" "$out/load.md" \
  "connections=$connections" "threads=$threads" "duration=$duration" "warmup=$warmup" \
  "repeats=$repeats" "rust_log=$rust_log" "diag_duration=$diag_duration" "cores=$(nproc)"
echo
cat "$out/load.md"

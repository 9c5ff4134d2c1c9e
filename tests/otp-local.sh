# Sourced by the test scripts that drive a real otp-local (readme-walkthrough.sh, schemathesis.sh,
# browser.sh); needs $root (the repository).
#
#   start_otp_local LOG [ARGS...]
#     builds otp-local, starts it on a free port of 127.0.0.1 with ARGS, its output in LOG, and waits
#     until it answers. Sets $port and $otp_local_pid: the caller's EXIT trap stops it by that PID
#     (set the trap first, with "${otp_local_pid:-}", so a failed start is cleaned up too).
start_otp_local() {
  local log=$1
  shift
  cargo build --locked -q -p otp-local
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$root/target/debug/otp-local" --addr "127.0.0.1:$port" "$@" >"$log" 2>&1 &
  otp_local_pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/_local/outbox" && return 0
    kill -0 "$otp_local_pid" 2>/dev/null || { echo "otp-local did not start:"; cat "$log"; return 1; }
    sleep 0.1
  done
  echo "otp-local did not answer within 10 s:"
  cat "$log"
  return 1
}

# Sourced by the bench scripts: the repo root as cwd, the cargo target dir (absolute), where results
# go, and start_emulator (the test suite's own emulator starter).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mkdir -p "${CARGO_TARGET_DIR:-target}"
target_dir="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
out="$root/target/bench"
mkdir -p "$out"

# start_emulator LOG: the test suite's emulator starter (stopped by PID when the script exits).
source "$root/tests/emulator.sh"

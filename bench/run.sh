#!/usr/bin/env bash
# Every benchmark, one after another on this machine, then BENCHMARKS.md rewritten from their results.
#
#   bash bench/run.sh            all parts (about 25 minutes on 2 cores from a clean target dir)
#   bash bench/run.sh micro totp only those parts; BENCHMARKS.md keeps the others' last results
#
# Parts: micro, totp, allocations, requests, coldstart, coldstart-profiles, load, scale, size. Needs what the test command needs
# (a Rust toolchain, python3, Node.js, apt for wrk); each part installs its own pieces.
# Run it on an otherwise idle machine: the parts time things and share its cores.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

all=(micro totp allocations requests coldstart coldstart-profiles load scale size)
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=("${all[@]}")
for part in "${parts[@]}"; do
  echo "=== bench: $part"
  if [ -f "bench/$part.sh" ]; then
    bash "bench/$part.sh"
  elif [ -f "bench/$part/run.sh" ]; then
    bash "bench/$part/run.sh"
  else
    echo "no such part: $part (parts: ${all[*]})" >&2
    exit 2
  fi
done
python3 bench/render.py report BENCHMARKS.md "${all[@]}"
echo "=== wrote BENCHMARKS.md"

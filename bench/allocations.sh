#!/usr/bin/env bash
# Heap allocations on the hot paths: runs the test that asserts them (shared/tests/allocations.rs) and
# reports the counts it printed. Writes target/bench/allocations.{json,md}.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cargo test --locked -q -p otp-shared --test allocations -- --nocapture --test-threads 1 \
  >"$out/allocations.log" 2>&1 || { cat "$out/allocations.log"; exit 1; }
python3 bench/render.py allocations "$out/allocations.log"

#!/usr/bin/env bash
# Criterion micro-benchmarks of the hot paths (shared/benches/hot_paths.rs), in the release profile
# the Lambdas ship with. Writes target/bench/micro.{json,md}. Extra arguments go to criterion.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cargo bench --locked -q -p otp-shared --bench hot_paths -- --warm-up-time 1 --measurement-time 3 "$@" \
  >"$out/micro.log" 2>&1 || { cat "$out/micro.log"; exit 1; }
python3 bench/render.py micro "$target_dir/criterion"

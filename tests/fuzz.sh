#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of every input surface: the route handlers' bodies,
# paths and headers, phone and email parsing, message rendering and the Key URI builder (fuzz/).
#
#   bash tests/fuzz.sh                      # every target, 60 s each
#   bash tests/fuzz.sh send_body            # one target (or several)
#   FUZZ_SECONDS=3600 bash tests/fuzz.sh    # longer runs
#   FUZZ_TARGET_DIR=DIR bash tests/fuzz.sh  # build somewhere else (default target/fuzz/build)
#
# Installs cargo-fuzz (pinned) into target/tools, builds every target once, then runs each on a copy of
# its committed corpus in target/fuzz/corpus (kept between runs, so longer local runs build on earlier
# ones; the committed corpus is never written). Exits non-zero on any crash, leak, timeout or
# out-of-memory, naming the input that caused it and the command that replays it. Writes what each
# target did to target/fuzz/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${FUZZ_SECONDS:-60}
cargo_fuzz_version=0.13.2
out=$root/target/fuzz
build=${FUZZ_TARGET_DIR:-$out/build}
export PATH="$root/target/tools/bin:$PATH"
# cargo fuzz passes -Z flags to rustc and cargo; this lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1

if [ "$(cargo fuzz --version 2>/dev/null | head -1)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  echo "installing cargo-fuzz $cargo_fuzz_version into target/tools"
  cargo install cargo-fuzz --locked --version "$cargo_fuzz_version" --root "$root/target/tools"
fi

# Longest input per target: a little past what each surface accepts, so size limits are exercised
# without the fuzzer spending its time on huge inputs.
declare -A max_len=(
  [send_body]=4096          # bodies up to MAX_BODY_BYTES (16 KiB) are parsed; fields are far shorter
  [verify_body]=1024
  [enroll_body]=4096        # labels of 64 four-byte characters, JSON-escaped
  [phone_email_parse]=512   # 32 (phone) and 254 (email) after trimming
  [render_message]=4096     # templates of up to 1,000 characters
  [otpauth_uri]=1024
)

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi
for target in "${targets[@]}"; do
  [ -n "${max_len[$target]:-}" ] || { echo "unknown fuzz target: $target" >&2; exit 2; }
done

# The lock file is committed: refuse to build if it is out of date rather than change it.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null

# One build for every target: release optimisation with debug assertions and overflow checks (an
# overflow is a bug here), no sanitizer (the project has no unsafe code; AddressSanitizer would double
# the cost of each run), 16 codegen units (a quicker build for slightly slower code). otp-shared is
# built without its `aws` feature, and fuzz/Cargo.toml leaves crates the targets never spend time in
# unoptimised: from a clean target directory the build takes about 8 min of CPU, 4.5 min on two idle
# cores (it was 28 min of CPU with the AWS SDK).
TIMEFORMAT='fuzz build: %0R s wall, %0U s user + %0S s system CPU'
time cargo fuzz build --fuzz-dir fuzz -s none --debug-assertions --codegen-units 16 --target-dir "$build"

summary=$out/summary.md
mkdir -p "$out"
{
  echo "| target | seconds | executions | per second | coverage (cov) | features (ft) | corpus | peak RSS |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$summary"

failed=()
for target in "${targets[@]}"; do
  corpus=$out/corpus/$target
  artifacts=$out/artifacts/$target
  log=$out/$target.log
  mkdir -p "$corpus" "$artifacts"
  cp -n fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  binary=$build/x86_64-unknown-linux-gnu/release/$target
  echo "fuzzing $target for ${seconds} s"
  started=$SECONDS
  status=0
  "$binary" "$corpus" \
    -max_total_time="$seconds" -max_len="${max_len[$target]}" -timeout=10 -rss_limit_mb=2048 \
    -dict="fuzz/dicts/$target.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  elapsed=$((SECONDS - started))
  # libFuzzer's last status line: "#N DONE cov: C ft: F corp: U/Bb … exec/s: E rss: RMb".
  done_line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  field() { sed -nE "s/.*$1 ([^ ]+).*/\1/p" <<<"$done_line"; }
  execs=$(sed -nE 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *//p' "$log")
  rss=$(sed -nE 's/^stat::peak_rss_mb: *//p' "$log")
  echo "| $target | $elapsed | ${execs:-?} | ${rate:-?} | $(field 'cov:') | $(field 'ft:') | $(field 'corp:') | ${rss:-?} MB |" >>"$summary"
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    echo "FAILED: $target (libFuzzer exit $status); last lines of $log:" >&2
    grep -v '^#' "$log" | tail -30 >&2
    while read -r input; do
      echo "input: $input" >&2
      echo "replay: $binary $input" >&2
    done < <(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log")
  fi
done

cat "$summary"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found failures in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${seconds} s each, no failures"

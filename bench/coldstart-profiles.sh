#!/usr/bin/env bash
# Cold start with profiles (issue 18): the three release bootstraps built twice, with the repository's
# profiles.json compiled in (only the built-in `default`) and with examples/profiles.json (ten
# profiles, OTP_PROFILES_FILE at build time, into target/coldstart-10), each cold-started by harness.py
# as bench/coldstart/run.sh does. Leaves target/bench/coldstart-profiles/{builtin,ten}/coldstart.md and
# target/bench/coldstart-profiles.md (the init and CPU medians side by side, for BENCHMARKS.md). Timings are reported, never asserted. Extra arguments go
# to the harness, e.g. `--runs 40`.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench=bench/coldstart
results="$out/coldstart-profiles"
rm -rf "$results"
mkdir -p "$results/builtin" "$results/ten"

echo "== building the release bootstraps: the repository's profiles.json, then examples/profiles.json" >&2
cargo build --release --locked -p otp-send -p otp-verify -p otp-enroll
ten_target="$root/target/coldstart-10"
OTP_PROFILES_FILE=examples/profiles.json CARGO_TARGET_DIR="$ten_target" \
  cargo build --release --locked -p otp-send -p otp-verify -p otp-enroll

[ -x "$bench/.venv/bin/python" ] || python3 -m venv "$bench/.venv"
"$bench/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$bench/requirements.txt"
(cd "$bench/node" && npm ci --silent --no-audit --no-fund)
start_emulator "$results/emulator.log"
"$bench/.venv/bin/python" "$bench/setup_emulator.py" --endpoint "$AWS_ENDPOINT_URL" >"$results/setup.json"

# The second variant measured tends to look faster (a warmer page cache): COLDSTART_PROFILES_ORDER="ten
# builtin" measures them the other way round.
for variant in ${COLDSTART_PROFILES_ORDER:-builtin ten}; do
  release="$target_dir/release"
  [ "$variant" = ten ] && release="$ten_target/release"
  echo "== measuring: $variant" >&2
  python3 "$bench/harness.py" --emulator "$AWS_ENDPOINT_URL" --setup "$results/setup.json" \
    --release-dir "$release" --venv-python "$root/$bench/.venv/bin/python" \
    --out "$results/$variant" "$@"
done

python3 - "$results" "$out/coldstart-profiles.md" "${COLDSTART_PROFILES_ORDER:-builtin ten}" <<'PY'
import json, sys
from pathlib import Path
results, target, order = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
def summaries(variant):
    data = json.loads((results / variant / "coldstart.json").read_text())
    return {c["label"]: c["summary"] for c in data["candidates"]}
builtin, ten = summaries("builtin"), summaries("ten")
lines = [
    "## Cold start with profiles",
    "",
    "`bash bench/coldstart-profiles.sh`: the three bootstraps built with the repository's `profiles.json` "
    "(only the built-in `default`) and with `examples/profiles.json` (ten profiles, `OTP_PROFILES_FILE` at "
    f"build time), each cold-started by the harness above, measured in this order: {order}. Medians; the "
    "difference in brackets. Parsing and checking the ten profiles is `init/profiles_parse_10` in the hot "
    "paths above; the variant measured second tends to look faster (a warmer page cache).",
    "",
    "| candidate | init: built-in only / 10 profiles (ms) | process CPU, init + first invoke: built-in only / 10 profiles (ms) |",
    "| --- | ---: | ---: |",
]
for label, b in builtin.items():
    t = ten.get(label)
    if t is None or label.endswith("floor"):
        continue
    bi, ti = b["init_ms"]["median"], t["init_ms"]["median"]
    bc, tc = b["cpu_ms"]["median"], t["cpu_ms"]["median"]
    lines.append(f"| {label} | {bi:.1f} / {ti:.1f} ({ti - bi:+.1f}) | {bc:.1f} / {tc:.1f} ({tc - bc:+.1f}) |")
target.write_text("\n".join(lines) + "\n")
print(target.read_text())
PY

#!/usr/bin/env bash
# TOTP verify (±1 step) side by side, in one run on this machine: ours (criterion), pyotp (timeit)
# and otplib (tinybench), then their ratios and the budgets (≥ 30× pyotp, ≥ 40× otplib) in
# target/bench/totp.{json,md}. About two minutes once the bench is built. Timings are reported, not
# asserted: a missed budget is written down as a GAP and the script still exits 0.
#
#   bash bench/totp/run.sh
#
# Needs a Rust toolchain, python3 (with venv) and Node.js ≥ 20 with npm; installs pyotp into
# bench/totp/.venv and otplib + tinybench into bench/totp/node/node_modules, both pinned.
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
here=bench/totp

echo "--- setting up pyotp and otplib"
[ -x "$here/.venv/bin/python" ] || python3 -m venv "$here/.venv"
"$here/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
(cd "$here/node" && npm ci --silent --no-audit --no-fund)

echo "--- ours: cargo bench --bench totp (criterion)"
rm -rf "$target_dir/criterion/totp_verify"
cargo bench --locked -q -p otp-shared --bench totp -- --warm-up-time 1 --measurement-time 3 \
  >"$out/totp-rust.log" 2>&1 || { cat "$out/totp-rust.log"; exit 1; }
grep -E '^totp_verify/|time:' "$out/totp-rust.log" || true

echo "--- pyotp (timeit)"
"$here/.venv/bin/python" "$here/pyotp_bench.py" >"$out/totp-pyotp.json"

echo "--- otplib (tinybench)"
node "$here/node/otplib_bench.mjs" >"$out/totp-otplib.json"

echo "--- report"
python3 "$here/report.py" "$target_dir/criterion" "$out/totp-pyotp.json" "$out/totp-otplib.json"

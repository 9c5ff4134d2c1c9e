#!/usr/bin/env bash
# The AWS fault-injection tests alone (tests/api/faults.rs), with the table RELIABILITY.md reports:
# each fault, what the service answered, how long it took and how many AWS requests it made.
#   bash tests/faults.sh      ~1 minute after the build; writes target/faults/report.md
# The README's test command runs the same tests (without the report) in its first step.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/emulator.sh
start_emulator target/faults/emulator.log
mkdir -p target/faults
cargo test --locked -p otp-tests --test api -- faults:: --nocapture | tee target/faults/output.txt
{
  echo "| fault injected | answer | time | AWS requests |"
  echo "|---|---|---|---|"
  grep '^FAULT-REPORT | ' target/faults/output.txt | sed 's/^FAULT-REPORT //' | sort
} > target/faults/report.md
echo
cat target/faults/report.md

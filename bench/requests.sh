#!/usr/bin/env bash
# Requests per operation against the emulator: runs the two tests that assert the counts (they fail
# on any regression) and reports the operations each one saw. Writes target/bench/requests.{json,md}.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start_emulator "$out/emulator.log"
cargo test --locked -q -p otp-tests --test api -- --exact --nocapture \
  aws::verify_is_one_dynamodb_request_and_send_at_most_two_and_one_delivery \
  aws::a_totp_verify_is_one_read_and_one_conditional_write \
  aws::a_guess_lock_is_one_transaction_and_a_locked_guess_one_write \
  aws::a_call_keeps_its_message_id_and_its_approval_is_one_write_and_one_feedback >"$out/requests.log" 2>&1 \
  || { cat "$out/requests.log"; exit 1; }
# An approval's time with and without the "code entered" signal (a measurement, ignored by the
# test command).
cargo test --locked -q -p otp-tests --test api -- --exact --nocapture --ignored \
  aws::approval_latency_with_and_without_feedback >"$out/feedback.log" 2>&1 \
  || { cat "$out/feedback.log"; exit 1; }
grep '^APPROVAL' "$out/feedback.log"
python3 bench/render.py requests "$out/requests.log"

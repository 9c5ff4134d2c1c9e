#!/usr/bin/env bash
# Runs one of the documented curl walkthroughs (memory: README.md's; aws, totp: docs/walkthroughs.md's),
# exactly as written, against a fresh otp-local on a free port (the one substitution: 127.0.0.1:3000 →
# that port, and for `aws` 127.0.0.1:5000 → the emulator at AWS_ENDPOINT_URL), and checks the code is
# approved once and refused after.
#   memory: the default otp-local (in-memory store, outbox)
#   aws:    otp-local --store dynamodb --delivery aws --create-table, against the emulator
#   totp:   the authenticator-app walkthrough on the default otp-local, codes from oathtool
#   voice:  the call walkthrough on the default otp-local (its outbox says what the call says)
set -euo pipefail
mode=${1:?usage: readme-walkthrough.sh memory|aws|totp|voice}
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

work=$(mktemp -d)
args=()
substitute=()
block=walkthrough
source_file=README.md
if [ "$mode" = totp ]; then
  command -v oathtool >/dev/null || { echo "the totp walkthrough needs oathtool: apt-get install oathtool"; exit 1; }
  block=walkthrough-totp
  source_file=docs/walkthroughs.md
elif [ "$mode" = voice ]; then
  block=walkthrough-voice
  source_file=docs/walkthroughs.md
elif [ "$mode" = aws ]; then
  emulator=${AWS_ENDPOINT_URL:?the aws walkthrough needs the emulator: run tests/run.sh}
  args+=(--store dynamodb --delivery aws --create-table --table "walkthrough-$$")
  substitute+=("s#http://127\.0\.0\.1:5000#$emulator#g")
  block=walkthrough-aws
  source_file=docs/walkthroughs.md
  export OTP_EMAIL_FROM=no-reply@example.com
fi
# The key otp-local's /v1/server/ routes take, in the environment of both otp-local and the
# walkthrough (whose server calls send it as docs/walkthroughs.md says: `Bearer $OTP_LOCAL_SERVER_KEY`).
OTP_LOCAL_SERVER_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
export OTP_LOCAL_SERVER_KEY
source tests/otp-local.sh
trap 'kill "${otp_local_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
start_otp_local "$work/otp-local.log" "${args[@]}"
substitute+=("s/127\.0\.0\.1:3000/127.0.0.1:$port/g")

sed -n "/<!-- $block:start -->/,/<!-- $block:end -->/p" "$source_file" \
  | sed -n '/^```sh$/,/^```$/p' | grep -v '^```' >"$work/walkthrough.sh"
for expression in "${substitute[@]}"; do sed -i "$expression" "$work/walkthrough.sh"; done
[ -s "$work/walkthrough.sh" ] || { echo "$source_file: $block not found"; exit 1; }

(cd "$work" && bash -euo pipefail walkthrough.sh) >"$work/out.txt" || { cat "$work/out.txt" "$work/otp-local.log"; exit 1; }
cat "$work/out.txt"
echo
fail() { echo "$block: $1"; cat "$work/otp-local.log"; exit 1; }
grep -q '"status":"approved"' "$work/out.txt" || fail "no approval"
grep -q '"status":"consumed"' "$work/out.txt" || fail "replay not refused"
grep -q 'OTP_SECRET is not set' "$work/otp-local.log" || fail "otp-local did not announce its ephemeral key"
if [ "$mode" = aws ]; then
  message_id=$(curl -s "http://127.0.0.1:$port/_local/outbox" | jq -r '.[-1].message_id')
  curl -s "$emulator/moto-api/data.json" \
    | jq -e --arg id "$message_id" '.sns.SMS | map(select(.message_id == $id and .phone_number == "+447911123456")) | length == 1' >/dev/null \
    || fail "the SMS SNS accepted ($message_id) is not in the emulator's data"
  grep -q 'store: DynamoDB' "$work/otp-local.log" || fail "otp-local did not use DynamoDB"
fi
if [ "$mode" = voice ]; then
  grep -q '"channel":"voice"' "$work/out.txt" || fail "the send was not a call"
  grep -q '<say-as interpret-as="characters">' "$work/out.txt" || fail "no SSML in the outbox"
  grep -q '"feedback":"RECEIVED"' "$work/out.txt" || fail "the approval did not confirm the call"
fi
if [ "$mode" = totp ]; then
  # Whether any JSON line the walkthrough printed matches the jq condition (the other lines are the
  # code oathtool printed and the DELETE's status).
  printed() { grep '^{' "$work/out.txt" | jq -e -s "any(.[]; $1)" >/dev/null; }
  printed '.status == "pending" and (.secret | length) >= 32 and .recovery_codes == 10' \
    || fail "no pending enrolment with a secret and 10 recovery codes"
  printed '(.challenge_id | length) > 0 and .user_id == "user-42" and (.expires_at | length) > 0' \
    || fail "no challenge for user-42"
  printed '.status == "approved" and .method == "totp" and .activated == true' \
    || fail "the first code did not activate the enrolment"
  printed '.status == "consumed" and .method == "totp"' || fail "the same code was not refused"
  printed '.status == "approved" and .method == "recovery_code" and .recovery_codes_remaining == 9' \
    || fail "no recovery-code approval leaving 9"
  printed '.status == "active" and .recovery_codes_remaining == 9 and .user_id == "user-42"' \
    || fail "the enrolment status is not active with 9 recovery codes"
  grep -qx '204' "$work/out.txt" || fail "DELETE did not answer 204"
  server="http://127.0.0.1:$port/v1/server/totp/enroll/user-42"
  gone=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $OTP_LOCAL_SERVER_KEY" "$server")
  [ "$gone" = 404 ] || fail "the enrolment is still there after DELETE ($gone)"
  # The server routes want the key; the public verify names no user.
  keyless=$(curl -s -o /dev/null -w '%{http_code}' "$server")
  [ "$keyless" = 401 ] || fail "GET $server without the key answered $keyless, not 401"
  by_user=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/otp/verify" \
    -H 'content-type: application/json' -d '{"user_id":"user-42","code":"123456"}')
  [ "$by_user" = 400 ] || fail "the public verify with a user_id answered $by_user, not 400"
  ! grep -qF "$OTP_LOCAL_SERVER_KEY" "$work/out.txt" || fail "a reply repeats the server key"
fi
echo "1 passed, 0 failed: $source_file $block"

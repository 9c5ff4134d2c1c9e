//! `POST /v1/otp/verify` (and `GET /.well-known/jwks.json`, the same function) with any body,
//! headers and path: never a 5xx or a panic, every refusal a problem document or a verify reply, and
//! every approval carries a proof token.
//! Placeholders (`$ID`, `$CODE`, `$USER`, `$TOTP`, `$RECOVERY`: see [`fill_placeholders`]) let
//! inputs reach real outcomes: approved, incorrect, consumed, replayed, locked.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_fuzz::{block_on, check_response, fill_placeholders, fresh_otp, request_from};
use otp_shared::http::verify_function;

fuzz_target!(|input: &[u8]| {
    let (otp, _clock) = fresh_otp();
    let input = fill_placeholders(&otp, input);
    let Some(request) = request_from(&input, "/v1/otp/verify") else {
        return;
    };
    let response = block_on(verify_function(&otp, request)).expect("handlers answer every request");
    let reply = check_response(&response, true);
    if reply["status"] == "approved" {
        assert_eq!(response.status(), http::StatusCode::OK);
        assert!(
            reply["token"].is_string(),
            "an approval without a token: {reply}"
        );
    }
});

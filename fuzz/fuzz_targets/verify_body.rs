//! `POST /v1/otp/verify` and `POST /v1/server/otp/verify` (and `GET /.well-known/jwks.json`, the
//! same function) with any body, headers and path, with and without a server principal: never a 5xx
//! or a panic, every refusal a problem document or a verify reply, every approval carries a proof
//! token, a server route without a principal is `401`, and a public verify naming a `user_id` is
//! `400`.
//! Placeholders (`$ID`, `$CODE`, `$USER`, `$TOTP`, `$RECOVERY`, `$CHALLENGE`: see
//! [`fill_placeholders`]) let inputs reach real outcomes: approved, incorrect, consumed, replayed,
//! locked.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_fuzz::{
    Facts, block_on, check_public_verify, check_response, check_server_route, fill_placeholders,
    fresh_otp, has_head, is_server_path, requests_from,
};
use otp_shared::http::verify_function;

fuzz_target!(|input: &[u8]| {
    // A body goes to each route on a service of its own: an approval on one must not make the
    // other a replay. A request head is one request.
    let routes: &[&str] = if has_head(input) {
        &["/v1/otp/verify"]
    } else {
        &["/v1/otp/verify", "/v1/server/otp/verify"]
    };
    for route in routes {
        let (otp, _clock) = fresh_otp();
        let filled = fill_placeholders(&otp, input);
        for request in requests_from(&filled, &[route]) {
            let facts = Facts::of(&request);
            let response =
                block_on(verify_function(&otp, request)).expect("handlers answer every request");
            let reply = check_response(&response, true);
            if is_server_path(&facts.path) {
                check_server_route(&facts, &response, &reply, false);
            } else {
                check_public_verify(&facts, &response, &reply);
            }
            if reply["status"] == "approved" {
                assert_eq!(response.status(), http::StatusCode::OK);
                assert!(
                    reply["token"].is_string(),
                    "an approval without a token: {reply}"
                );
            }
        }
    }
});

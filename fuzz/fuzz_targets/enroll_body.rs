//! The enroll function (`POST /v1/server/totp/enroll`, `GET`/`DELETE
//! /v1/server/totp/enroll/{user_id}`, `POST /v1/server/totp/challenge`: all server routes) with any
//! method, path, headers and body, with and without a server principal: never a 5xx or a panic,
//! every refusal a problem document, no request without a principal gets past `401`, and an
//! enrolment's Key URI and a challenge are ones the service reads back.
//! `$USER` in an input names a user with an active authenticator (see `fill_placeholders`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_fuzz::{
    Facts, block_on, check_response, check_server_route, fill_placeholders, fresh_otp,
    requests_from,
};
use otp_shared::http::enroll_function;

fuzz_target!(|input: &[u8]| {
    let (otp, _clock) = fresh_otp();
    let input = fill_placeholders(&otp, input);
    for request in requests_from(
        &input,
        &["/v1/server/totp/enroll", "/v1/server/totp/challenge"],
    ) {
        let facts = Facts::of(&request);
        let response =
            block_on(enroll_function(&otp, request)).expect("handlers answer every request");
        let reply = check_response(&response, false);
        // Every route of this function is a server route, whatever the path says.
        check_server_route(&facts, &response, &reply, true);
        if response.status() != http::StatusCode::CREATED {
            continue;
        }
        if let Some(uri) = reply.get("otpauth_uri") {
            let uri = uri.as_str().expect("an enrolment's Key URI is a string");
            totp_rs::Totp::from_url(uri).expect("an authenticator app reads the Key URI");
        } else {
            let challenge = reply["challenge_id"]
                .as_str()
                .expect("a challenge has an id");
            let opened = otp
                .open_totp_challenge(challenge)
                .expect("the service opens its own challenge");
            assert_eq!(
                reply["user_id"],
                opened.user_id.as_str(),
                "the challenge's user"
            );
        }
    }
});

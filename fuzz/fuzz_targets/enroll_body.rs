//! The enroll function (`POST /v1/totp/enroll`, `GET`/`DELETE /v1/totp/enroll/{user_id}`) with any
//! method, path, headers and body: never a 5xx or a panic, and every refusal a problem document.
//! `$USER` in an input names a user with an active authenticator (see `fill_placeholders`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_fuzz::{block_on, check_response, fill_placeholders, fresh_otp, request_from};
use otp_shared::http::enroll;

fuzz_target!(|input: &[u8]| {
    let (otp, _clock) = fresh_otp();
    let input = fill_placeholders(&otp, input);
    let Some(request) = request_from(&input, "/v1/totp/enroll") else {
        return;
    };
    let response = block_on(enroll(&otp, request)).expect("handlers answer every request");
    let reply = check_response(&response, false);
    if response.status() == http::StatusCode::CREATED {
        let uri = reply["otpauth_uri"]
            .as_str()
            .expect("an enrolment has a Key URI");
        totp_rs::Totp::from_url(uri).expect("an authenticator app reads the Key URI");
    }
});

//! `POST /v1/otp/send` with any body, headers and source address: never a 5xx or a panic, every
//! refusal a problem document, and an accepted send's reply shows the destination only masked.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_fuzz::{block_on, check_response, fresh_otp, request_from};
use otp_shared::domain::{Channel, Destination};
use otp_shared::http::send;

fuzz_target!(|input: &[u8]| {
    let Some(request) = request_from(input, "/v1/otp/send") else {
        return;
    };
    let sent = destination_of(request.body());
    let (otp, _clock) = fresh_otp();
    let response = block_on(send(&otp, request)).expect("handlers answer every request");
    let reply = check_response(&response, false);
    if response.status() == http::StatusCode::ACCEPTED {
        let destination = sent.expect("an accepted send named a valid destination");
        let to = reply["to"]
            .as_str()
            .expect("the reply names where the code went");
        assert!(
            !to.contains(destination.address()),
            "the reply shows the full destination: {reply}"
        );
    }
});

/// The destination the body names, if it is a valid one.
fn destination_of(body: &lambda_http::Body) -> Option<Destination> {
    let body: serde_json::Value = match body {
        lambda_http::Body::Text(text) => serde_json::from_str(text).ok()?,
        lambda_http::Body::Binary(bytes) => serde_json::from_slice(bytes).ok()?,
        _ => return None,
    };
    let channel = match body["channel"].as_str()? {
        "sms" => Channel::Sms,
        "email" => Channel::Email,
        _ => return None,
    };
    Destination::parse(channel, body["to"].as_str()?).ok()
}

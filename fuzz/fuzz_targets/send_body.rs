//! `POST /v1/otp/send` and `POST /v1/server/otp/send` with any body, headers and source address,
//! with and without a server principal: never a 5xx or a panic, every refusal a problem document, an
//! accepted send's reply shows the destination only masked, a server route without a principal is
//! `401`, and a public send with a server-only field is `400`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_fuzz::{
    Facts, block_on, check_public_send, check_response, check_server_route, fresh_otp,
    is_server_path, requests_from,
};
use otp_shared::domain::{Channel, Destination};
use otp_shared::http::send;

fuzz_target!(|input: &[u8]| {
    for request in requests_from(input, &["/v1/otp/send", "/v1/server/otp/send"]) {
        let facts = Facts::of(&request);
        let sent = destination_of(&facts);
        let (otp, _clock) = fresh_otp();
        let response = block_on(send(&otp, request)).expect("handlers answer every request");
        let reply = check_response(&response, false);
        if is_server_path(&facts.path) {
            check_server_route(&facts, &response, &reply, false);
        } else {
            check_public_send(&facts, &response, &reply);
        }
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
    }
});

/// The destination the body names, if it is a valid one.
fn destination_of(facts: &Facts) -> Option<Destination> {
    let body = facts.body.as_ref()?;
    let channel = match body.get("channel")?.as_str()? {
        "sms" => Channel::Sms,
        "email" => Channel::Email,
        "voice" => Channel::Voice,
        _ => return None,
    };
    Destination::parse(channel, body.get("to")?.as_str()?).ok()
}

//! What the fuzz targets share: a fresh service per input, requests made from fuzz input, and the
//! checks every response must pass.
//!
//! An input to a route target is the body alone (sent as `POST` to the route with
//! `Content-Type: application/json`), or, when it starts with a complete HTTP/1 request head, that
//! request: method, path (and query), headers, then the body. Two pseudo-headers reach what API
//! Gateway sets rather than the client: `x-fuzz-source-ip` (the request context's source address)
//! and `x-fuzz-user-id` (the `{user_id}` path parameter).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};
use otp_shared::adapters::{ManualClock, MemoryStore, SeededRandomness};
use otp_shared::domain::{CodeAttempt, UserId};
use otp_shared::hashing::Keys;
use otp_shared::http::send;
use otp_shared::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};
use otp_shared::totp::{TotpLabel, TotpParams};
use otp_shared::usecases::{EnrollRequest, TotpProof, TotpVerifyRequest};
use otp_shared::{Otp, ServiceSecret, Settings};
use serde_json::Value;
use time::OffsetDateTime;

/// 2026-01-01T00:00:00Z: every input starts at the same instant.
pub const START: i64 = 1_767_225_600;

/// A notifier that accepts every message and keeps the last one, so a target can read a code back.
#[derive(Default)]
pub struct Accepting {
    last: Mutex<Option<OutgoingMessage>>,
}

impl Accepting {
    pub fn last_text(&self) -> Option<String> {
        self.last
            .lock()
            .expect("notifier lock")
            .as_ref()
            .map(|m| m.text.clone())
    }
}

impl Notifier for Accepting {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        *self.last.lock().expect("notifier lock") = Some(message.clone());
        Ok(Delivered::default())
    }
}

pub type FuzzOtp = Otp<MemoryStore, Accepting>;

/// A service with an empty store, the clock at [`START`] and a fixed random seed. Built per input
/// (tens of microseconds) rather than once, so that an input's outcome does not depend on the ones
/// before it: a crash replays from its file alone, and earlier inputs cannot use up a quota.
pub fn fresh_otp() -> (FuzzOtp, Arc<ManualClock>) {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        Keys::derive(
            &ServiceSecret::parse("the fuzz targets' service secret, 32+ bytes")
                .expect("a valid secret"),
        )
    });
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(START).expect("a valid instant"),
    ));
    let otp = Otp::new(
        MemoryStore::default(),
        Accepting::default(),
        clock.clone(),
        Arc::new(SeededRandomness::new(8)),
        keys.clone(),
        Settings::default(),
    );
    (otp, clock)
}

/// One current-thread runtime for the whole run: the handlers are async but never wait on I/O here.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a tokio runtime")
        })
        .block_on(future)
}

/// The request an input stands for (see the module docs), or `None` when its head names a method,
/// path or header that no HTTP client could send (API Gateway would not deliver it).
pub fn request_from(input: &[u8], route: &str) -> Option<Request> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Request::new(&mut headers);
    let (builder, body) = match head.parse(input) {
        Ok(httparse::Status::Complete(body_at)) => {
            let mut builder = http::Request::builder()
                .method(head.method?)
                .uri(head.path?);
            for header in head.headers.iter() {
                builder = builder.header(header.name, header.value);
            }
            (builder, &input[body_at..])
        }
        _ => (
            http::Request::builder()
                .method("POST")
                .uri(route)
                .header("content-type", "application/json"),
            input,
        ),
    };
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => Body::Text(text.to_owned()),
            Err(_) => Body::Binary(body.to_vec()),
        }
    };
    let mut request = builder.body(body).ok()?;
    let pseudo = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let (source_ip, user_id) = (pseudo("x-fuzz-source-ip"), pseudo("x-fuzz-user-id"));
    if let Some(source_ip) = source_ip {
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = Some(source_ip);
        request = request.with_request_context(RequestContext::ApiGatewayV2(context));
    }
    if let Some(user_id) = user_id {
        request = request.with_path_parameters(HashMap::from([("user_id".to_owned(), user_id)]));
    }
    Some(request)
}

/// The body of a response as bytes.
pub fn body_bytes(response: &Response<Body>) -> &[u8] {
    match response.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// What the API promises for any request: never a 5xx; a refusal is an RFC 9457 problem document
/// whose `status` is the HTTP status; anything else is a JSON reply (or no body, for 204).
/// `json_refusals` allows 4xx JSON replies too: a verify answers `incorrect`, `expired`… that way.
/// Returns the parsed body.
pub fn check_response(response: &Response<Body>, json_refusals: bool) -> Value {
    let status = response.status();
    let body = body_bytes(response);
    let shown = String::from_utf8_lossy(body);
    assert!(!status.is_server_error(), "{status}: {shown}");
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("an ASCII content type"));
    if status == http::StatusCode::NO_CONTENT {
        assert!(body.is_empty(), "204 with a body: {shown}");
        return Value::Null;
    }
    let parsed: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {shown}"));
    assert!(
        parsed.is_object(),
        "{status} body is not an object: {shown}"
    );
    if content_type == Some("application/problem+json") {
        assert!(status.is_client_error(), "a problem with {status}: {shown}");
        assert!(parsed["type"].is_string(), "problem without type: {shown}");
        assert!(
            parsed["title"].is_string(),
            "problem without title: {shown}"
        );
        assert_eq!(
            parsed["status"].as_u64(),
            Some(u64::from(status.as_u16())),
            "problem status differs from {status}: {shown}"
        );
    } else {
        assert_eq!(content_type, Some("application/json"), "{status}: {shown}");
        assert!(
            status.is_success() || (json_refusals && status.is_client_error()),
            "{status} is not a problem document: {shown}"
        );
    }
    parsed
}

/// Replaces placeholders in an input with values made for it alone, so that inputs can name things
/// the fuzzer could never guess: `$ID` and `$CODE`, a code sent by SMS and its id; `$USER`, a user
/// with an active authenticator; `$TOTP`, the authenticator's next code; `$RECOVERY`, one of the
/// user's recovery codes.
pub fn fill_placeholders(otp: &FuzzOtp, input: &[u8]) -> Vec<u8> {
    let mut input = input.to_vec();
    if contains(&input, b"$ID") || contains(&input, b"$CODE") {
        let (id, code) = sent_code(otp);
        input = replace(&input, b"$ID", id.as_bytes());
        input = replace(&input, b"$CODE", code.as_bytes());
    }
    if contains(&input, b"$USER") || contains(&input, b"$TOTP") || contains(&input, b"$RECOVERY") {
        let (totp, recovery) = active_authenticator(otp);
        input = replace(&input, b"$USER", USER.as_bytes());
        input = replace(&input, b"$TOTP", totp.as_bytes());
        input = replace(&input, b"$RECOVERY", recovery.as_bytes());
    }
    input
}

pub const USER: &str = "fuzz-user";

/// A code sent by SMS through the send handler: its id, and the code as the notifier got it.
fn sent_code(otp: &FuzzOtp) -> (String, String) {
    let request = http::Request::builder()
        .method("POST")
        .uri("/v1/otp/send")
        .body(lambda_http::Body::Text(
            r#"{"channel":"sms","to":"+447911123456","template":"{code}"}"#.to_owned(),
        ))
        .expect("a valid request");
    let response = block_on(send(otp, request)).expect("the send handler answers");
    let reply: serde_json::Value =
        serde_json::from_slice(body_bytes(&response)).expect("a JSON reply");
    let id = reply["id"]
        .as_str()
        .expect("a sent code has an id")
        .to_owned();
    let code = otp.notifier().last_text().expect("the code was delivered");
    (id, code)
}

/// Enrols [`USER`] and confirms the enrolment with the authenticator's code, as an app would; returns
/// the code for the next time step (the current one is now spent) and a recovery code.
fn active_authenticator(otp: &FuzzOtp) -> (String, String) {
    let user_id = UserId::parse(USER).expect("a valid user id");
    let label = |s| TotpLabel::parse(s).expect("a valid label");
    let enrolled = block_on(otp.enroll_totp(EnrollRequest {
        user_id: user_id.clone(),
        issuer: label("Fuzz"),
        account: label("fuzz@example.com"),
        params: TotpParams::default(),
        replace: false,
    }))
    .expect("a new user enrols");
    let app = totp_rs::Totp::from_url(enrolled.otpauth_uri.as_str()).expect("a valid Key URI");
    let now = START as u64;
    let confirm = CodeAttempt::parse(&app.generate(now).to_string()).expect("a valid code");
    let confirmed = block_on(otp.verify_totp(TotpVerifyRequest {
        user_id,
        proof: TotpProof::Code(confirm),
    }))
    .expect("a verify answers");
    assert_eq!(
        confirmed.status(),
        "approved",
        "the first code confirms the enrolment"
    );
    let next = app.generate(now + app.step()).to_string();
    (next, enrolled.recovery_codes[0].to_string())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

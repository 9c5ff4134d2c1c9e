//! What the fuzz targets share: a fresh service per input, requests made from fuzz input, and the
//! checks every response must pass.
//!
//! An input to a route target is the body alone, or, when it starts with a complete HTTP/1 request
//! head, that request: method, path (and query), headers, then the body. A body alone is sent as
//! `POST` with `Content-Type: application/json` to each of the target's routes (see
//! [`requests_from`]): a public route as a browser calls it, and a server route (`/v1/server/…`)
//! both as the app's backend calls it (with a [`ServerPrincipal`]) and as anyone else does
//! (without). A request head is sent as it is; an `authorization` header in it stands for the
//! backend's credentials (the request gets a [`ServerPrincipal`], as otp-local gives one for its
//! key and API Gateway's `AWS_IAM` authorizer for a signature). Two pseudo-headers reach what API
//! Gateway sets rather than the client: `x-fuzz-source-ip` (the request context's source address)
//! and `x-fuzz-user-id` (the `{user_id}` path parameter).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt as _, Response};
use otp_shared::adapters::{ManualClock, MemoryStore, SeededRandomness};
use otp_shared::crypto::Keys;
use otp_shared::domain::{CodeAttempt, UserId};
use otp_shared::http::{ServerPrincipal, send};
use otp_shared::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};
use otp_shared::profiles::Profiles;
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

/// The repository's example profiles (`examples/profiles.json`): inputs name them in `profile`.
pub const EXAMPLE_PROFILES: &str = include_str!("../../examples/profiles.json");

/// A service with an empty store, the clock at [`START`], a fixed random seed and the example
/// profiles ([`EXAMPLE_PROFILES`]). Built per input (tens of microseconds) rather than once, so
/// that an input's outcome does not depend on the ones before it: a crash replays from its file
/// alone, and earlier inputs cannot use up a quota.
pub fn fresh_otp() -> (FuzzOtp, Arc<ManualClock>) {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    let settings = SETTINGS.get_or_init(|| {
        // The example profiles on top of the built-in `default`: their lists (Web OTP origins, app
        // hashes, purposes, locales, fallback) and floors are what a send may be refused by.
        let mut settings = Settings::default();
        let builtin = settings.profiles.default_profile().as_ref().clone();
        settings.profiles = Profiles::parse(EXAMPLE_PROFILES, builtin).expect("valid profiles");
        settings
    });
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
        settings.clone(),
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

/// Where the routes for the app's backend live: a request on one needs a [`ServerPrincipal`].
pub const SERVER_PREFIX: &str = "/v1/server/";

/// Whether `path` is a server route, as API Gateway routes it (a stage name may come first).
pub fn is_server_path(path: &str) -> bool {
    path.contains(SERVER_PREFIX)
}

/// The principal a request gets for an `authorization` header.
pub const FUZZ_PRINCIPAL: &str = "fuzz-backend";

/// The requests an input stands for (see the module docs): the one its request head describes, or
/// its body sent to each of `routes`, twice to a server route (with and without a principal). None
/// when its head names a method, path or header that no HTTP client could send (API Gateway would
/// not deliver it).
pub fn requests_from(input: &[u8], routes: &[&str]) -> Vec<Request> {
    if let Some(head) = request_with_head(input) {
        return head.into_iter().collect();
    }
    let mut requests = Vec::new();
    for route in routes {
        let principals: &[bool] = if is_server_path(route) {
            &[true, false]
        } else {
            &[false]
        };
        for &principal in principals {
            let mut request = http::Request::builder()
                .method("POST")
                .uri(*route)
                .header("content-type", "application/json")
                .body(body_of(input))
                .expect("a valid request");
            if principal {
                request
                    .extensions_mut()
                    .insert(ServerPrincipal(FUZZ_PRINCIPAL.to_owned()));
            }
            requests.push(request);
        }
    }
    requests
}

/// Whether `input` starts with a complete HTTP/1 request head (and so stands for one request).
pub fn has_head(input: &[u8]) -> bool {
    request_with_head(input).is_some()
}

/// `Some` request (or `Some(None)`, one no client could send) when `input` starts with a complete
/// HTTP/1 request head; `None` when it is a body alone.
fn request_with_head(input: &[u8]) -> Option<Option<Request>> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(body_at)) = head.parse(input) else {
        return None;
    };
    Some((|| {
        let mut builder = http::Request::builder()
            .method(head.method?)
            .uri(head.path?);
        for header in head.headers.iter() {
            builder = builder.header(header.name, header.value);
        }
        let mut request = builder.body(body_of(&input[body_at..])).ok()?;
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
            request =
                request.with_path_parameters(HashMap::from([("user_id".to_owned(), user_id)]));
        }
        if request.headers().contains_key(http::header::AUTHORIZATION) {
            request
                .extensions_mut()
                .insert(ServerPrincipal(FUZZ_PRINCIPAL.to_owned()));
        }
        Some(request)
    })())
}

fn body_of(body: &[u8]) -> Body {
    if body.is_empty() {
        Body::Empty
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => Body::Text(text.to_owned()),
            Err(_) => Body::Binary(body.to_vec()),
        }
    }
}

/// What a target needs to know of a request after handing it over: where it went, how, whether a
/// principal came with it, and its body if that is a JSON object.
#[derive(Debug)]
pub struct Facts {
    pub method: http::Method,
    pub path: String,
    pub principal: bool,
    pub body: Option<serde_json::Map<String, Value>>,
}

impl Facts {
    pub fn of(request: &Request) -> Self {
        let body = match request.body() {
            Body::Text(text) => serde_json::from_str(text).ok(),
            Body::Binary(bytes) => serde_json::from_slice(bytes).ok(),
            _ => None,
        };
        Self {
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
            principal: request.extensions().get::<ServerPrincipal>().is_some(),
            body: match body {
                Some(Value::Object(object)) => Some(object),
                _ => None,
            },
        }
    }

    /// Whether the body has `field` with a value other than `null`.
    pub fn has(&self, field: &str) -> bool {
        self.body
            .as_ref()
            .and_then(|body| body.get(field))
            .is_some_and(|value| !value.is_null())
    }
}

/// A request without a principal never reaches a server route's use case: it is `401` (a problem
/// of type `unauthorized` with `WWW-Authenticate`), unless it is refused before credentials are
/// looked at: `405` for a method the route does not take, or, when `path_user_id` (the enrolment
/// routes), `400` for a `{user_id}` in the path that is no user id. With a principal, never `401`.
pub fn check_server_route(
    facts: &Facts,
    response: &Response<Body>,
    reply: &Value,
    path_user_id: bool,
) {
    let status = response.status().as_u16();
    if facts.principal {
        assert_ne!(status, 401, "a server principal was refused: {reply}");
        return;
    }
    let refused_early =
        status == 405 || (path_user_id && status == 400 && reply["field"] == "user_id");
    if refused_early {
        return;
    }
    assert_eq!(
        status, 401,
        "{} {} without a principal: {reply}",
        facts.method, facts.path
    );
    assert_eq!(reply["type"], "urn:problem-type:otp-lambda:unauthorized");
    assert!(
        response
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .is_some_and(|v| v.as_bytes().starts_with(b"Bearer")),
        "401 without WWW-Authenticate: Bearer"
    );
}

/// The send fields only the app's backend may set (on `POST /v1/server/otp/send`).
pub const SERVER_ONLY_SEND_FIELDS: &[&str] = &[
    "length",
    "alphabet",
    "ttl_seconds",
    "template",
    "brand",
    "reference",
    "transaction",
];

/// A public send that sets a server-only field is refused: `400` (or `405` / `415` before the body
/// is read), whoever sends it, a principal included.
pub fn check_public_send(facts: &Facts, response: &Response<Body>, reply: &Value) {
    if is_server_path(&facts.path) {
        return;
    }
    if let Some(field) = SERVER_ONLY_SEND_FIELDS.iter().find(|f| facts.has(f)) {
        let status = response.status().as_u16();
        assert!(
            matches!(status, 400 | 405 | 415),
            "a public send with `{field}` answered {status}: {reply}"
        );
    }
}

/// A public verify that names a `user_id` is refused: `400` (or `405` / `415` before the body is
/// read), whoever sends it.
pub fn check_public_verify(facts: &Facts, response: &Response<Body>, reply: &Value) {
    if is_server_path(&facts.path) || facts.path.ends_with(otp_shared::http::JWKS_PATH) {
        return;
    }
    if facts.has("user_id") {
        let status = response.status().as_u16();
        assert!(
            matches!(status, 400 | 405 | 415),
            "a public verify with `user_id` answered {status}: {reply}"
        );
    }
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
/// user's recovery codes; `$CHALLENGE`, a challenge for that user, as the backend asks for one.
pub fn fill_placeholders(otp: &FuzzOtp, input: &[u8]) -> Vec<u8> {
    let mut input = input.to_vec();
    if contains(&input, b"$ID") || contains(&input, b"$CODE") {
        let (id, code) = sent_code(otp);
        input = replace(&input, b"$ID", id.as_bytes());
        input = replace(&input, b"$CODE", code.as_bytes());
    }
    if [b"$USER".as_slice(), b"$TOTP", b"$RECOVERY", b"$CHALLENGE"]
        .iter()
        .any(|placeholder| contains(&input, placeholder))
    {
        let (totp, recovery) = active_authenticator(otp);
        input = replace(&input, b"$USER", USER.as_bytes());
        input = replace(&input, b"$TOTP", totp.as_bytes());
        input = replace(&input, b"$RECOVERY", recovery.as_bytes());
        if contains(&input, b"$CHALLENGE") {
            let user_id = UserId::parse(USER).expect("a valid user id");
            let challenge = block_on(otp.issue_totp_challenge(user_id))
                .expect("an enrolled user gets a challenge");
            input = replace(&input, b"$CHALLENGE", challenge.challenge_id.as_bytes());
        }
    }
    input
}

pub const USER: &str = "fuzz-user";

/// A code sent by SMS through the server send (the backend's: only it may set the template, here
/// the code alone): its id, and the code as the notifier got it.
fn sent_code(otp: &FuzzOtp) -> (String, String) {
    let mut request = http::Request::builder()
        .method("POST")
        .uri("/v1/server/otp/send")
        .header("content-type", "application/json")
        .body(Body::Text(
            r#"{"channel":"sms","to":"+447911123456","template":"{code}"}"#.to_owned(),
        ))
        .expect("a valid request");
    request
        .extensions_mut()
        .insert(ServerPrincipal(FUZZ_PRINCIPAL.to_owned()));
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
        enrollment_id: None,
        requester: otp_shared::usecases::Requester::Server("fuzz".to_owned()),
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

//! Any request to any function: arbitrary JSON, bodies that use each route's real field names with
//! values of every JSON type, and bodies that are not JSON at all, with any method, path and media
//! type, on the public routes and the server routes (`/v1/server/…`), with and without the server
//! principal the platform gives the app's backend, through the real handlers on a fresh in-memory
//! service per case. Every answer must be a 2xx or 4xx with a well-formed body, no handler may
//! panic, no body or log line may carry a code that was sent or a full destination, a server route
//! without a principal is refused (`401`) before it does anything, and a public request never gets
//! what only the backend may ask for (a server-only send field, a verify by `user_id`).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use http::Method;
use lambda_http::{Body, Request, RequestExt as _, Response};
use otp_shared::adapters::{ManualClock, MemoryStore, OsRandomness};
use otp_shared::crypto::Keys;
use otp_shared::domain::Channel;
use otp_shared::http::ServerPrincipal;
use otp_shared::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};
use otp_shared::profiles::Profiles;
use otp_shared::{Otp, ServiceSecret, Settings};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The fields each route accepts, as `shared/src/http/dto/*_body.rs` list them;
/// `the_field_lists_match_what_the_service_says` holds these to the service's own lists.
const SEND_FIELDS: &[&str] = &[
    "profile",
    "channel",
    "to",
    "purpose",
    "length",
    "alphabet",
    "ttl_seconds",
    "template",
    "brand",
    "locale",
    "reference",
    "origin",
    "app_hash",
    "fallback",
    "transaction",
    "captcha_token",
];
const VERIFY_FIELDS: &[&str] = &["id", "code", "challenge_id", "user_id", "recovery_code"];
const ENROLL_FIELDS: &[&str] = &[
    "user_id",
    "issuer",
    "account",
    "digits",
    "algorithm",
    "period",
    "replace",
];
const CHALLENGE_FIELDS: &[&str] = &["user_id"];

/// The send fields only the app's backend may set (docs/api.md: `POST /v1/server/otp/send`); on the
/// public send each is a `400`.
const SERVER_ONLY_SEND_FIELDS: &[&str] = &[
    "length",
    "alphabet",
    "ttl_seconds",
    "template",
    "brand",
    "reference",
    "transaction",
];

/// Where the routes for the app's backend live.
const SERVER_PREFIX: &str = "/v1/server/";

/// Stand-ins for values only known once a case runs: the live code's id and code, an enrolled
/// user, one of its recovery codes and a challenge for it.
const LIVE_ID: &str = "$ID";
const LIVE_CODE: &str = "$CODE";
const USER: &str = "user-1";
const LIVE_RECOVERY: &str = "$RECOVERY";
const LIVE_CHALLENGE: &str = "$CHALLENGE";

/// Messages as the provider would have received them.
#[derive(Clone, Default)]
pub(crate) struct Recorder(pub(crate) Arc<Mutex<Vec<OutgoingMessage>>>);

impl Notifier for Recorder {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(Delivered::default())
    }
}

/// The code a recorded message carries: templates from `values_for` mark it with ⟦ ⟧; the
/// built-in SMS (and the example profiles') starts with it, the built-in email has it alone after
/// the first paragraph.
pub(crate) fn code_in(message: &OutgoingMessage) -> String {
    if let Some((_, rest)) = message.text.split_once('⟦') {
        return rest.split_once('⟧').unwrap().0.to_owned();
    }
    match message.channel {
        // (A transaction template may follow it with a colon: `{code}: pay …`.)
        Channel::Sms => message
            .text
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches(':')
            .to_owned(),
        Channel::Email => message.text.split("\n\n").nth(1).unwrap().trim().to_owned(),
        // A call says each character in its own `say-as`, the whole code twice by default.
        Channel::Voice => {
            let ssml = &message.call.as_ref().expect("a call's SSML").ssml;
            let said: String = ssml
                .split("interpret-as=\"characters\">")
                .skip(1)
                .filter_map(|rest| rest.chars().next())
                .collect();
            said[..said.len() / usize::from(otp_shared::messages::DEFAULT_REPEATS)].to_owned()
        }
    }
}

/// Log lines, written where the test can read them.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Function {
    Send,
    Verify,
    Enroll,
}

#[derive(Debug, Clone)]
enum Payload {
    Json(Value),
    /// Sent as text exactly: invalid JSON, odd number literals, oversized bodies.
    Text(String),
    Bytes(Vec<u8>),
    Empty,
}

#[derive(Debug, Clone)]
struct Call {
    function: Function,
    method: Method,
    path: String,
    /// Whether the platform names the app's backend as the caller (otp-local after its server key,
    /// API Gateway after a SigV4 signature).
    principal: bool,
    /// API Gateway's `{user_id}`, when set.
    path_user_id: Option<String>,
    content_type: Option<Vec<u8>>,
    payload: Payload,
}

/// A string value: one a field accepts, a near miss, a live value, or anything.
fn strings() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "sms",
            "email",
            "+447911123456",
            "+44 7911 123456",
            "+14155552671",
            "+999123456789",
            "+80012345678",
            "ana@example.com",
            "Ana@Example.COM",
            "a@b",
            "login",
            "digits",
            "letters",
            "alphanumeric",
            "fr-CA",
            "xx-!!",
            "Acme",
            "order-42",
            "example.com",
            "FA+9qCX9VSu",
            "SHA1",
            "SHA256",
            "MD5",
            "123456",
            "12 34-56",
            "user-2",
            "..",
            "%",
            "\u{0}",
            "🦀",
            LIVE_ID,
            LIVE_CODE,
            USER,
            LIVE_RECOVERY,
            LIVE_CHALLENGE,
            "checkout",
            "default",
            "Code ⟦{code}⟧ for {brand}",
            "⟦{code}⟧ {minutes} min, {purpose}",
            "{code",
            "{nope} {code}",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
        "[a-z0-9@.+-]{0,40}",
    ]
}

fn numbers() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            0u64,
            1,
            3,
            4,
            6,
            7,
            8,
            10,
            11,
            29,
            30,
            60,
            3600,
            3601,
            u64::MAX
        ])
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL)
            .prop_map(Value::from),
    ]
}

/// Any JSON value: nested, bounded in depth and size, with unicode strings and big, negative and
/// fractional numbers.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        numbers(),
        strings().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys(&[]), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn keys(fields: &'static [&'static str]) -> BoxedStrategy<String> {
    if fields.is_empty() {
        strings().boxed()
    } else {
        prop_oneof![
            8 => prop::sample::select(fields.to_vec()).prop_map(str::to_owned),
            1 => strings(),
        ]
        .boxed()
    }
}

/// An object with a route's own field names (now and then one it does not know), each with a
/// value of any JSON type, so the parsers get past the first checks.
fn almost_valid(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        4 => strings().prop_map(Value::String),
        2 => numbers(),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
        1 => Just(json!({"channel": "email", "to": "ana@example.com"})),
        1 => any_json(),
    ];
    prop::collection::btree_map(keys(fields), value, 0..8)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Bodies that are not (quite) JSON.
fn raw_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "{\"length\": 1e400}",
            "{\"length\": -0}",
            "{\"length\": 99999999999999999999999}",
            "{\"ttl_seconds\": 300.0}",
            "{\"channel\": \"sms\", \"to\": \"+447911123456\"",
            "{\"channel\": \"sms\", \"channel\": \"email\", \"to\": \"ana@example.com\"}",
            "[1, 2",
            "\"just a string\"",
            "null",
            "\u{feff}{}",
            "{\"to\": \"\\ud800\"}",
            "   ",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
        // Over the 16 KiB limit.
        Just(format!("{{\"reference\": \"{}\"}}", "x".repeat(17 * 1024))),
    ]
}

fn payloads() -> impl Strategy<Value = Payload> {
    prop_oneof![
        2 => any_json().prop_map(Payload::Json),
        3 => almost_valid(SEND_FIELDS).prop_map(Payload::Json),
        3 => almost_valid(VERIFY_FIELDS).prop_map(Payload::Json),
        2 => almost_valid(ENROLL_FIELDS).prop_map(Payload::Json),
        1 => almost_valid(CHALLENGE_FIELDS).prop_map(Payload::Json),
        2 => raw_text().prop_map(Payload::Text),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Payload::Bytes),
        1 => Just(Payload::Empty),
    ]
}

/// Values each field accepts, so that near-valid bodies often pass as a whole.
fn good_values(field: &str) -> Vec<Value> {
    let values = match field {
        "channel" => json!(["sms", "email"]),
        "to" => json!([
            "+447911123456",
            "+14155552671",
            "+33612345678",
            "ana@example.com",
            "Ana.Lima@Example.COM"
        ]),
        "purpose" => json!(["login", "change-payment", "signup", "confirm-payment"]),
        "profile" => json!(["default", "checkout", "login", "europe", "nope"]),
        "length" => json!([4, 6, 8, 10]),
        "alphabet" => json!(["digits", "letters", "alphanumeric"]),
        "ttl_seconds" => json!([30, 300, 3600]),
        "template" => json!([
            "Code ⟦{code}⟧ for {brand}",
            "⟦{code}⟧ {minutes} min, {purpose}"
        ]),
        "brand" => json!(["Acme"]),
        "locale" => json!(["fr-CA", "de", "pt-BR", "en"]),
        "reference" => json!(["order-42"]),
        "origin" => json!(["example.com", "acme.example", "pay.acme.example"]),
        "app_hash" => json!(["FA+9qCX9VSu"]),
        "fallback" => json!([{"channel": "email", "to": "bob@example.org"}]),
        "transaction" => json!([
            {"amount": "12.50", "currency": "EUR", "payee": "Acme Ltd"},
            {"amount": "12.5.0", "currency": "eur", "payee": ""},
        ]),
        "captcha_token" => json!(["XXXX.DUMMY.TOKEN.XXXX", ""]),
        "id" => json!([LIVE_ID]),
        "code" => json!([LIVE_CODE, "123456"]),
        "recovery_code" => json!([LIVE_RECOVERY]),
        "challenge_id" => json!([LIVE_CHALLENGE, "bm90LWEtY2hhbGxlbmdl"]),
        "user_id" => json!([USER, "user-2"]),
        "issuer" => json!(["Acme", "Ünïcode Co"]),
        "account" => json!(["ada@example.com"]),
        "digits" => json!([6, 8]),
        "algorithm" => json!(["SHA1", "SHA256", "SHA512"]),
        "period" => json!([30, 60]),
        "replace" => json!([true, false]),
        _ => json!([]),
    };
    match values {
        Value::Array(values) => values,
        _ => unreachable!(),
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Good(usize),
    Any(Value),
    Remove,
}

/// A valid body with a few fields changed: to a value the field accepts, to any value, or removed.
fn near_valid(bases: Value, fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let Value::Array(bases) = bases else {
        unreachable!()
    };
    let edit = prop_oneof![
        4 => any::<usize>().prop_map(Edit::Good),
        1 => any_json().prop_map(Edit::Any),
        1 => Just(Edit::Remove),
    ];
    (
        prop::sample::select(bases),
        prop::collection::vec((prop::sample::select(fields.to_vec()), edit), 0..4),
    )
        .prop_map(|(mut body, edits)| {
            let object = body.as_object_mut().unwrap();
            for (field, edit) in edits {
                match edit {
                    Edit::Good(n) => {
                        let values = good_values(field);
                        object.insert(field.to_owned(), values[n % values.len()].clone());
                    }
                    Edit::Any(value) => {
                        object.insert(field.to_owned(), value);
                    }
                    Edit::Remove => {
                        object.remove(field);
                    }
                }
            }
            body
        })
}

/// Calls as API Gateway would route them: the right function, method and path, near-valid bodies;
/// a server route mostly with the backend's principal, now and then without.
fn routed_calls() -> impl Strategy<Value = Call> {
    let post = |function, path: &str, body: Value, principal| Call {
        function,
        method: Method::POST,
        path: path.to_owned(),
        principal,
        path_user_id: None,
        content_type: Some(b"application/json".to_vec()),
        payload: Payload::Json(body),
    };
    // Whether a call to a server route comes with the principal.
    let principal = || prop::bool::weighted(0.85);
    let sends = near_valid(
        json!([
            {"channel": "sms", "to": "+447911123456", "purpose": "signup"},
            {"channel": "email", "to": "ana@example.com"},
            {"channel": "sms", "to": "+14155552671"},
        ]),
        SEND_FIELDS,
    );
    let server_sends = near_valid(
        json!([
            {"channel": "sms", "to": "+447911123456", "purpose": "signup", "reference": "order-42"},
            {"channel": "email", "to": "ana@example.com", "length": 8, "alphabet": "letters"},
            {"channel": "sms", "to": "+14155552671", "ttl_seconds": 60, "template": "Code ⟦{code}⟧ for {brand}", "brand": "Acme"},
            {"profile": "checkout", "channel": "sms", "to": "+447911123456", "purpose": "confirm-payment",
             "transaction": {"amount": "12.50", "currency": "EUR", "payee": "Acme Ltd"}},
        ]),
        SEND_FIELDS,
    );
    let verifies = near_valid(
        json!([
            {"id": LIVE_ID, "code": LIVE_CODE},
            {"id": LIVE_ID, "code": "000000"},
            {"challenge_id": LIVE_CHALLENGE, "recovery_code": LIVE_RECOVERY},
            {"challenge_id": LIVE_CHALLENGE, "code": "123456"},
            {"user_id": USER, "code": "123456"},
        ]),
        VERIFY_FIELDS,
    );
    let server_verifies = near_valid(
        json!([
            {"id": LIVE_ID, "code": LIVE_CODE},
            {"user_id": USER, "recovery_code": LIVE_RECOVERY},
            {"user_id": USER, "code": "123456"},
            {"challenge_id": LIVE_CHALLENGE, "code": "123456"},
        ]),
        VERIFY_FIELDS,
    );
    let enrolls = near_valid(
        json!([
            {"user_id": "user-2", "issuer": "Acme", "account": "ada@example.com"},
            {"user_id": USER, "issuer": "Acme", "account": "ada@example.com", "replace": true},
        ]),
        ENROLL_FIELDS,
    );
    let challenges = near_valid(
        json!([{"user_id": USER}, {"user_id": "user-2"}]),
        CHALLENGE_FIELDS,
    );
    let enrollment = (
        prop::sample::select(vec![Method::GET, Method::DELETE]),
        prop::sample::select(vec![USER, "user-2", "nobody"]),
        principal(),
    )
        .prop_map(|(method, user, principal)| Call {
            function: Function::Enroll,
            method,
            path: format!("/v1/server/totp/enroll/{user}"),
            principal,
            path_user_id: Some(user.to_owned()),
            content_type: None,
            payload: Payload::Empty,
        });
    prop_oneof![
        3 => sends.prop_map(move |body| post(Function::Send, "/v1/otp/send", body, false)),
        2 => (server_sends, principal()).prop_map(move |(body, principal)| {
            post(Function::Send, "/v1/server/otp/send", body, principal)
        }),
        3 => verifies.prop_map(move |body| post(Function::Verify, "/v1/otp/verify", body, false)),
        2 => (server_verifies, principal()).prop_map(move |(body, principal)| {
            post(Function::Verify, "/v1/server/otp/verify", body, principal)
        }),
        1 => (enrolls, principal()).prop_map(move |(body, principal)| {
            post(Function::Enroll, "/v1/server/totp/enroll", body, principal)
        }),
        1 => (challenges, principal()).prop_map(move |(body, principal)| {
            post(Function::Enroll, "/v1/server/totp/challenge", body, principal)
        }),
        1 => enrollment,
        1 => Just(Call {
            function: Function::Verify,
            method: Method::GET,
            path: "/.well-known/jwks.json".to_owned(),
            principal: false,
            path_user_id: None,
            content_type: None,
            payload: Payload::Empty,
        }),
    ]
}

fn paths() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        prop::sample::select(vec![
            USER,
            "user-2",
            LIVE_ID,
            ".",
            "..",
            "%FF",
            "a%2Fb",
            "%E2%82%AC"
        ])
        .prop_map(str::to_owned),
        any::<String>().prop_map(|s| {
            percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        }),
    ];
    prop_oneof![
        4 => prop::sample::select(vec![
            "/v1/otp/send",
            "/v1/otp/verify",
            "/.well-known/jwks.json",
            "/v1/server/otp/send",
            "/v1/server/otp/verify",
            "/v1/server/totp/enroll",
            "/v1/server/totp/enroll/",
            "/v1/server/totp/challenge",
            "/stage/v1/server/otp/send",
            "/v1/server/.well-known/jwks.json",
            "/v1/totp/enroll",
            "/",
            "/nope",
        ])
        .prop_map(str::to_owned),
        3 => segment.prop_map(|s| format!("/v1/server/totp/enroll/{s}")),
    ]
}

fn content_types() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        3 => Just(None),
        6 => prop::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "application/problem+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "",
        ])
        .prop_map(|s| Some(s.as_bytes().to_vec())),
        1 => Just(Some(b"application/json\xff".to_vec())),
    ]
}

fn calls() -> impl Strategy<Value = Call> {
    prop_oneof![routed_calls(), any_calls()]
}

/// Any function, method, path, media type and body.
fn any_calls() -> impl Strategy<Value = Call> {
    (
        prop::sample::select(vec![Function::Send, Function::Verify, Function::Enroll]),
        prop::sample::select(vec![
            Method::POST,
            Method::POST,
            Method::GET,
            Method::DELETE,
            Method::PUT,
            Method::PATCH,
            Method::HEAD,
            Method::OPTIONS,
        ]),
        paths(),
        any::<bool>(),
        prop::option::weighted(0.2, strings()),
        content_types(),
        payloads(),
    )
        .prop_map(
            |(function, method, path, principal, path_user_id, content_type, payload)| Call {
                function,
                method,
                path,
                principal,
                path_user_id,
                content_type,
                payload,
            },
        )
}

/// What a case has made live, for the stand-ins.
struct Live {
    id: String,
    code: String,
    recovery: String,
    challenge: String,
    /// The bodies of the replies that made them.
    replies: Vec<String>,
}

fn fill(value: &mut Value, live: &Live) {
    match value {
        Value::String(s) => {
            let replacement = match s.as_str() {
                LIVE_ID => &live.id,
                LIVE_CODE => &live.code,
                LIVE_RECOVERY => &live.recovery,
                LIVE_CHALLENGE => &live.challenge,
                _ => return,
            };
            *s = replacement.clone();
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, live)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, live)),
        _ => {}
    }
}

fn request(call: &Call, live: &Live) -> Request {
    let path = call.path.replace(LIVE_ID, &live.id);
    let mut builder = http::Request::builder()
        .method(call.method.clone())
        .uri(path);
    if let Some(content_type) = &call.content_type {
        builder = builder.header(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_bytes(content_type).unwrap(),
        );
    }
    let body = match &call.payload {
        Payload::Json(value) => {
            let mut value = value.clone();
            fill(&mut value, live);
            Body::Text(value.to_string())
        }
        Payload::Text(text) => Body::Text(text.clone()),
        Payload::Bytes(bytes) => Body::Binary(bytes.clone()),
        Payload::Empty => Body::Empty,
    };
    let mut request = builder.body(body).unwrap();
    if call.principal {
        request
            .extensions_mut()
            .insert(ServerPrincipal(BACKEND.to_owned()));
    }
    match &call.path_user_id {
        Some(user) => {
            request.with_path_parameters(HashMap::from([("user_id".to_owned(), user.clone())]))
        }
        None => request,
    }
}

pub(crate) type Service = Otp<MemoryStore, Recorder>;

/// The principal the platform names for the app's backend.
pub(crate) const BACKEND: &str = "the app's backend";

pub(crate) async fn handle(otp: &Service, function: Function, request: Request) -> Response<Body> {
    let handled = match function {
        Function::Send => otp_shared::http::send(otp, request).await,
        Function::Verify => otp_shared::http::verify_function(otp, request).await,
        Function::Enroll => otp_shared::http::enroll_function(otp, request).await,
    };
    handled.expect("the handlers answer every request themselves")
}

/// A fresh service with the built-in `default` profile and the example profiles
/// (`examples/profiles.json`), which generated sends name.
pub(crate) fn service() -> (Service, Recorder) {
    let recorder = Recorder::default();
    let secret = ServiceSecret::parse("the any-json property test's secret, 32+ bytes").unwrap();
    let mut settings = Settings::default();
    let builtin = settings.profiles.default_profile().as_ref().clone();
    settings.profiles =
        Profiles::parse(include_str!("../../../examples/profiles.json"), builtin).unwrap();
    let otp = Otp::new(
        MemoryStore::new(),
        recorder.clone(),
        Arc::new(ManualClock::default()),
        Arc::new(OsRandomness),
        Keys::derive(&secret),
        settings,
    );
    (otp, recorder)
}

pub(crate) fn json_call(path: &str, body: Value) -> Request {
    http::Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap()
}

/// [`json_call`] by the app's backend: the platform has named it the caller.
pub(crate) fn server_call(path: &str, body: Value) -> Request {
    let mut request = json_call(path, body);
    request
        .extensions_mut()
        .insert(ServerPrincipal(BACKEND.to_owned()));
    request
}

/// A live code, an enrolled user with recovery codes and a challenge for it, so generated
/// verifies can reach them.
async fn live(otp: &Service, recorder: &Recorder) -> Live {
    let sent = handle(
        otp,
        Function::Send,
        json_call(
            "/v1/otp/send",
            json!({"channel": "sms", "to": "+447911123456", "purpose": "login"}),
        ),
    )
    .await;
    assert_eq!(sent.status(), 202);
    let mut replies = vec![String::from_utf8_lossy(sent.body().as_ref()).into_owned()];
    let sent: Value = serde_json::from_slice(sent.body().as_ref()).unwrap();
    let enrolled = handle(
        otp,
        Function::Enroll,
        server_call(
            "/v1/server/totp/enroll",
            json!({"user_id": USER, "issuer": "Acme", "account": "ada@example.com"}),
        ),
    )
    .await;
    assert_eq!(enrolled.status(), 201);
    replies.push(String::from_utf8_lossy(enrolled.body().as_ref()).into_owned());
    let enrolled: Value = serde_json::from_slice(enrolled.body().as_ref()).unwrap();
    let challenge = handle(
        otp,
        Function::Enroll,
        server_call("/v1/server/totp/challenge", json!({"user_id": USER})),
    )
    .await;
    assert_eq!(challenge.status(), 201);
    replies.push(String::from_utf8_lossy(challenge.body().as_ref()).into_owned());
    let challenge: Value = serde_json::from_slice(challenge.body().as_ref()).unwrap();
    Live {
        id: sent["id"].as_str().unwrap().to_owned(),
        code: code_in(&recorder.0.lock().unwrap()[0]),
        recovery: enrolled["recovery_codes"][0].as_str().unwrap().to_owned(),
        challenge: challenge["challenge_id"].as_str().unwrap().to_owned(),
        replies,
    }
}

/// The outcome statuses a verify answers with in a plain JSON body (not a problem document).
const VERIFY_OUTCOMES: &[&str] = &["incorrect", "expired", "locked", "consumed", "not_found"];

fn check(call: &Call, response: &Response<Body>) -> Result<(), TestCaseError> {
    let status = response.status();
    prop_assert!(
        status.is_success() || status.is_client_error(),
        "{} for {:?}: {}",
        status,
        call,
        String::from_utf8_lossy(response.body().as_ref())
    );
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.body().as_ref();
    if status == http::StatusCode::NO_CONTENT {
        prop_assert!(body.is_empty(), "a 204 with a body");
        return Ok(());
    }
    let parsed: Value = serde_json::from_slice(body).map_err(|e| {
        TestCaseError::fail(format!("{status} body is not JSON ({e}) for {call:?}"))
    })?;
    match content_type.as_deref() {
        Some("application/problem+json") => {
            prop_assert!(status.is_client_error(), "a problem with {}", status);
            prop_assert!(
                parsed["type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("urn:problem-type:otp-lambda:")),
                "problem type {}",
                parsed["type"]
            );
            prop_assert!(parsed["title"].as_str().is_some_and(|t| !t.is_empty()));
            prop_assert_eq!(parsed["status"].as_u64(), Some(u64::from(status.as_u16())));
        }
        Some("application/json") if status.is_client_error() => {
            // Only a verify answers a refusal with its outcome rather than a problem.
            prop_assert!(
                matches!(call.function, Function::Verify)
                    && parsed["status"]
                        .as_str()
                        .is_some_and(|s| VERIFY_OUTCOMES.contains(&s)),
                "{} with a plain JSON body {} for {:?}",
                status,
                parsed,
                call
            );
        }
        Some("application/json") => {}
        other => prop_assert!(false, "content type {:?} with {}", other, status),
    }
    check_trust_boundary(call, status, &parsed)
}

/// Whether the handler treats `call` as a server route: every route of the enroll function, and
/// the send and verify functions' `/v1/server/…` paths (after a stage name, say), JWKS aside.
fn is_server(call: &Call) -> bool {
    match call.function {
        Function::Enroll => true,
        Function::Send => call.path.contains(SERVER_PREFIX),
        Function::Verify => {
            call.path.contains(SERVER_PREFIX) && !call.path.ends_with("/.well-known/jwks.json")
        }
    }
}

/// The body's `field`, when it is there and not `null`.
fn sets(call: &Call, field: &str) -> bool {
    matches!(&call.payload, Payload::Json(Value::Object(body)) if body.get(field).is_some_and(|v| !v.is_null()))
}

/// A server route without the principal does nothing but refuse: `401` `unauthorized` with
/// `WWW-Authenticate`, unless refused before credentials are looked at (a method the route does not
/// take; an enrolment path's `{user_id}` that is none). With the principal, never `401`. A public
/// send that sets a server-only field, and a public verify that names a `user_id`, are refused.
fn check_trust_boundary(
    call: &Call,
    status: http::StatusCode,
    body: &Value,
) -> Result<(), TestCaseError> {
    let status = status.as_u16();
    if is_server(call) {
        if call.principal {
            prop_assert_ne!(status, 401, "the backend refused: {} for {:?}", body, call);
        } else {
            let early = status == 405
                || (matches!(call.function, Function::Enroll)
                    && status == 400
                    && body["field"] == "user_id");
            prop_assert!(
                early || status == 401,
                "{} without a principal for {:?}: {}",
                status,
                call,
                body
            );
            if status == 401 {
                prop_assert_eq!(&body["type"], "urn:problem-type:otp-lambda:unauthorized");
            }
        }
        return Ok(());
    }
    let refused = matches!(status, 400 | 405 | 415);
    if matches!(call.function, Function::Send) {
        for field in SERVER_ONLY_SEND_FIELDS.iter().filter(|f| sets(call, f)) {
            prop_assert!(
                refused,
                "a public send with `{}` got {}: {}",
                field,
                status,
                body
            );
        }
    }
    if matches!(call.function, Function::Verify) && !call.path.ends_with("/.well-known/jwks.json") {
        prop_assert!(
            refused || !sets(call, "user_id"),
            "a public verify with `user_id` got {}: {}",
            status,
            body
        );
    }
    Ok(())
}

/// No body or log line carries a code that was sent or a full destination. Codes shorter than six
/// symbols are left out: one could turn up by chance in a QR code's base64.
fn check_secrets(recorder: &Recorder, bodies: &[String], logs: &str) -> Result<(), TestCaseError> {
    for message in recorder.0.lock().unwrap().iter() {
        let code = code_in(message);
        for (what, secret) in [
            ("code", code.as_str()),
            ("destination", message.to.as_str()),
        ] {
            if what == "code" && code.len() < 6 {
                continue;
            }
            for body in bodies {
                prop_assert!(
                    !body.contains(secret),
                    "a body carries the {}: {}",
                    what,
                    body
                );
            }
            prop_assert!(
                !logs.contains(secret),
                "a log line carries the {}: {}",
                what,
                logs
            );
        }
    }
    Ok(())
}

async fn run(calls: &[Call], logs: &Captured) -> Result<(), TestCaseError> {
    logs.0.lock().unwrap().clear();
    let (otp, recorder) = service();
    let live = live(&otp, &recorder).await;
    let mut bodies = live.replies.clone();
    for call in calls {
        let response = handle(&otp, call.function, request(call, &live)).await;
        check(call, &response)?;
        bodies.push(String::from_utf8_lossy(response.body().as_ref()).into_owned());
    }
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    check_secrets(&recorder, &bodies, &logs)
}

/// Every log line of this thread, at every level, from now until the guard is dropped.
fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

#[test]
fn any_request_to_any_function_gets_a_2xx_or_4xx_with_a_well_formed_body() {
    let runtime = super::runtime();
    let (logs, _guard) = capture_logs();
    proptest!(super::config(96), |(calls in prop::collection::vec(calls(), 1..6))| {
        runtime.block_on(run(&calls, &logs))?;
    });
}

/// Found by the property above: an unknown field's name was repeated in the problem document
/// and in the log line, so a destination (or a code) sent as a key came back and was logged.
#[test]
fn an_unknown_field_named_like_a_destination_is_neither_repeated_nor_logged() {
    let (logs, _guard) = capture_logs();
    let call = Call {
        function: Function::Send,
        method: Method::POST,
        path: "/v1/otp/send".to_owned(),
        principal: false,
        path_user_id: None,
        // (It was found without a media type; that is now refused before the body is read.)
        content_type: Some(b"application/json".to_vec()),
        payload: Payload::Json(json!({"+447911123456": null})),
    };
    super::runtime()
        .block_on(run(&[call], &logs))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The field lists above are the service's own: an unknown field's problem lists the known ones.
#[test]
fn the_field_lists_match_what_the_service_says() {
    let runtime = super::runtime();
    let (otp, _) = service();
    for (function, path, fields) in [
        (Function::Send, "/v1/otp/send", SEND_FIELDS),
        (Function::Send, "/v1/server/otp/send", SEND_FIELDS),
        (Function::Verify, "/v1/otp/verify", VERIFY_FIELDS),
        (Function::Verify, "/v1/server/otp/verify", VERIFY_FIELDS),
        (Function::Enroll, "/v1/server/totp/enroll", ENROLL_FIELDS),
        (
            Function::Enroll,
            "/v1/server/totp/challenge",
            CHALLENGE_FIELDS,
        ),
    ] {
        let call = server_call(path, json!({"unknown": 1}));
        let response = runtime.block_on(handle(&otp, function, call));
        let problem: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        let detail = problem["detail"].as_str().unwrap();
        let listed = detail.split_once("known fields: ").unwrap().1;
        assert_eq!(listed, fields.join(", "), "{path}");
    }
}

//! The bot check before a public send, against a fake `siteverify` on 127.0.0.1 (no outside
//! network): a passing token sends, a failing one stores and sends nothing, a provider that does
//! not answer is a 503 unless the profile fails open, the backend is never checked, and neither
//! the token nor the secret reaches a log.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use otp_shared::Settings;
use otp_shared::adapters::siteverify::{CaptchaSecret, SiteVerify, verify_url_override};
use otp_shared::metrics::MetricEvent;
use otp_shared::profiles::Profiles;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_wired};

/// The secret the fake expects.
const SECRET: &str = "fake-siteverify-secret-4f1c9a7e";

/// How the fake answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `success` for an unused token starting `pass-` with the right secret, solved on
    /// example.com (`pass-elsewhere-` tokens on elsewhere.com).
    Answer,
    /// Never within the client's 2 s.
    Slow,
}

/// A fake `siteverify` on a free port of 127.0.0.1; it stops when dropped.
struct FakeSiteVerify {
    url: String,
    /// Each request's form fields, in order.
    seen: Arc<Mutex<Vec<HashMap<String, String>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSiteVerify {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeSiteVerify {
    async fn start(mode: Mode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
        let record = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let record = record.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let record = record.clone();
                        async move { Ok::<_, Infallible>(answer(mode, &record, request).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, seen, task }
    }

    fn seen(&self) -> Vec<HashMap<String, String>> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    mode: Mode,
    record: &Mutex<Vec<HashMap<String, String>>>,
    request: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let form_type = request
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/x-www-form-urlencoded");
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let fields = form(&String::from_utf8_lossy(&body));
    let fresh = {
        let mut seen = record.lock().unwrap();
        let token = fields.get("response");
        let fresh = !seen.iter().any(|f| f.get("response") == token);
        seen.push(fields.clone());
        fresh
    };
    if mode == Mode::Slow {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let token = fields.get("response").map_or("", String::as_str);
    let reply = if !form_type || fields.get("secret").map(String::as_str) != Some(SECRET) {
        json!({"success": false, "error-codes": ["invalid-input-secret"]})
    } else if !token.starts_with("pass-") {
        json!({"success": false, "error-codes": ["invalid-input-response"]})
    } else if !fresh {
        json!({"success": false, "error-codes": ["timeout-or-duplicate"]})
    } else {
        let host = if token.starts_with("pass-elsewhere-") {
            "elsewhere.com"
        } else {
            "example.com"
        };
        json!({"success": true, "error-codes": [], "hostname": host, "challenge_ts": "2026-01-01T00:00:00Z"})
    };
    hyper::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(reply.to_string())))
        .unwrap()
}

/// An `application/x-www-form-urlencoded` body's fields.
fn form(body: &str) -> HashMap<String, String> {
    crate::helpers::form_pairs(body).into_iter().collect()
}

/// A fresh token the fake accepts (`pass-…`) or refuses; random, so the log audit can look for it.
fn token(prefix: &str) -> String {
    let token = format!(
        "{prefix}{}",
        data_encoding::BASE64URL_NOPAD.encode(&rand::random::<[u8; 24]>())
    );
    crate::logs::sensitive(&token);
    token
}

/// `default` checks with Turnstile, fails closed and accepts tokens solved on example.com;
/// `lenient` checks with hCaptcha and fails open; `open` has no check.
fn settings() -> Settings {
    let settings = Settings::default();
    let builtin = settings.profiles.default_profile().as_ref().clone();
    let profiles = Profiles::parse(
        r#"{"profiles": {
            "default": {"bot_check": {"provider": "turnstile", "hostnames": ["example.com"]}},
            "lenient": {"bot_check": {"provider": "hcaptcha", "fail_open": true}},
            "open": {}
        }}"#,
        builtin,
    )
    .unwrap();
    Settings {
        profiles,
        ..settings
    }
}

/// The app with its bot check asking `url` with `secret`.
async fn app_asking(url: &str, secret: &str) -> TestApp {
    crate::logs::sensitive(SECRET);
    let check = SiteVerify::new(
        CaptchaSecret::parse(secret).unwrap(),
        Some(verify_url_override(url).unwrap()),
    )
    .unwrap();
    spawn_app_wired(settings(), |otp| otp.with_bot_check(Arc::new(check))).await
}

fn email(captcha_token: Option<&str>) -> Value {
    let mut body = json!({"channel": "email", "to": "ana@example.com"});
    if let Some(token) = captcha_token {
        body["captcha_token"] = json!(token);
    }
    body
}

fn problem(reply: &crate::helpers::Reply) -> &str {
    reply.body["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("urn:problem-type:otp-lambda:")
}

#[tokio::test]
async fn a_passing_token_sends_after_one_question_with_the_secret_and_the_token() {
    let fake = FakeSiteVerify::start(Mode::Answer).await;
    let app = app_asking(&fake.url, SECRET).await;
    let good = token("pass-");
    let reply = app.send(&email(Some(&good))).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "exactly one question");
    assert_eq!(seen[0]["secret"], SECRET);
    assert_eq!(seen[0]["response"], good);
    assert_eq!(seen[0]["remoteip"], "127.0.0.1");
    assert_eq!(app.outbox().await.len(), 1);
    let logs = crate::logs::captured().text();
    assert!(!logs.contains(&good) && !logs.contains(SECRET));
}

#[tokio::test]
async fn a_failing_token_stores_and_sends_nothing() {
    let fake = FakeSiteVerify::start(Mode::Answer).await;
    let app = app_asking(&fake.url, SECRET).await;
    let elsewhere = token("pass-elsewhere-");
    for (token, why) in [
        (token("forged-"), "a token the provider refuses"),
        (
            elsewhere,
            "a token solved on a host the profile does not list",
        ),
    ] {
        let reply = app.send(&email(Some(&token))).await;
        assert_eq!(reply.status, 400, "{why}: {}", reply.body);
        assert_eq!(problem(&reply), "captcha-failed", "{why}");
        assert!(reply.headers.get("retry-after").is_none());
    }
    assert!(app.outbox().await.is_empty(), "nothing sent");
    // Nothing recorded either: no resend cooldown holds the next, good, send back.
    let good = token("pass-");
    let reply = app.send(&email(Some(&good))).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    // A token is single use: the same one again is refused by the provider.
    app.advance(60);
    let again = app.send(&email(Some(&good))).await;
    assert_eq!(problem(&again), "captcha-failed", "{}", again.body);
    assert_eq!(app.outbox().await.len(), 1);
    assert_eq!(
        app.metrics.count(|e| *e
            == MetricEvent::SendRefused {
                reason: "captcha-failed"
            }),
        3
    );
}

#[tokio::test]
async fn a_public_send_without_a_token_is_refused_naming_the_field() {
    let fake = FakeSiteVerify::start(Mode::Answer).await;
    let app = app_asking(&fake.url, SECRET).await;
    for body in [email(None), email(Some("has a space"))] {
        let reply = app.send(&body).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(problem(&reply), "invalid-request");
        assert_eq!(reply.body["field"], "captcha_token");
    }
    assert!(fake.seen().is_empty());
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn the_backend_and_profiles_without_a_check_are_not_asked() {
    let fake = FakeSiteVerify::start(Mode::Answer).await;
    let app = app_asking(&fake.url, SECRET).await;
    let server = app.server_send(&email(None)).await;
    assert_eq!(server.status, 202, "{}", server.body);
    // A token where no check applies is ignored: it changes nothing, and is never forwarded.
    let forged = token("forged-");
    let mut body = email(Some(&forged));
    body["to"] = json!("bea@example.com");
    let server = app.server_send(&body).await;
    assert_eq!(server.status, 202, "{}", server.body);
    body["to"] = json!("cy@example.com");
    body["profile"] = json!("open");
    let public = app.send(&body).await;
    assert_eq!(public.status, 202, "{}", public.body);
    assert!(fake.seen().is_empty());
    assert_eq!(app.outbox().await.len(), 3);
}

#[tokio::test]
async fn a_provider_that_does_not_answer_is_a_503_unless_the_profile_fails_open() {
    // Down: a port nothing listens on any more.
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/siteverify", listener.local_addr().unwrap())
    };
    let app = app_asking(&down, SECRET).await;
    let reply = app.send(&email(Some(&token("pass-")))).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(problem(&reply), "captcha-unavailable");
    assert!(reply.retry_after() >= 1);
    assert!(app.outbox().await.is_empty());

    let mut lenient = email(Some(&token("pass-")));
    lenient["profile"] = json!("lenient");
    let reply = app.send(&lenient).await;
    assert_eq!(reply.status, 202, "fails open: {}", reply.body);
    assert_eq!(app.outbox().await.len(), 1);
    assert_eq!(
        app.metrics.count(|e| *e == MetricEvent::BotCheckFailedOpen),
        1
    );
}

#[tokio::test]
async fn a_slow_provider_or_a_wrong_secret_is_a_prompt_503() {
    let slow = FakeSiteVerify::start(Mode::Slow).await;
    let app = app_asking(&slow.url, SECRET).await;
    let started = Instant::now();
    let reply = app.send(&email(Some(&token("pass-")))).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(problem(&reply), "captcha-unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // The provider blames our secret: not the user's fault, so not a failed check.
    let fake = FakeSiteVerify::start(Mode::Answer).await;
    let app = app_asking(&fake.url, "not-the-secret-the-provider-has").await;
    let reply = app.send(&email(Some(&token("pass-")))).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(problem(&reply), "captcha-unavailable");
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn an_idempotent_retry_brings_a_fresh_token_and_gets_the_first_reply() {
    let fake = FakeSiteVerify::start(Mode::Answer).await;
    let app = app_asking(&fake.url, SECRET).await;
    let send = |token: String| {
        app.client
            .post(format!("{}/v1/otp/send", app.address))
            .header("content-type", "application/json")
            .header("idempotency-key", "bot-check-retry-1")
            .body(email(Some(&token)).to_string())
            .send()
    };
    let first = crate::helpers::reply_of(send(token("pass-")).await.unwrap()).await;
    assert_eq!(first.status, 202, "{}", first.body);
    let retry = crate::helpers::reply_of(send(token("pass-")).await.unwrap()).await;
    assert_eq!(retry.status, 202, "{}", retry.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(app.outbox().await.len(), 1);
}

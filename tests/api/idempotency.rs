//! `Idempotency-Key` on send: a retried request gets the first reply and no second message; the key
//! is bound to its request and scoped to its caller and destination; refusals and failures do not
//! keep it. Runs on both adapters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use otp_shared::adapters::{ManualClock, MemoryStore, OsRandomness};
use otp_shared::crypto::Keys;
use otp_shared::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};
use otp_shared::{Otp, ServiceSecret, Settings};
use serde_json::{Value, json};

use crate::helpers::{Recorder, Reply, TestApp, spawn_app};

const REUSED: &str = "urn:problem-type:otp-lambda:idempotency-key-reused";

impl TestApp {
    pub(crate) async fn send_with_key(&self, key: &str, body: &str) -> Reply {
        // Its addresses join those the log audit looks for, as every helper's do.
        crate::logs::sensitive_fields(&serde_json::from_str(body).expect("a JSON body"));
        crate::helpers::reply_of(
            self.client
                .post(format!("{}/v1/otp/send", self.address))
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(body.to_owned())
                .send()
                .await
                .expect("request"),
        )
        .await
    }
}

fn replayed(reply: &Reply) -> bool {
    reply
        .headers
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_first_reply_and_no_second_message() {
    let app = spawn_app().await;
    let body = r#"{"channel": "sms", "to": "+447911123456", "purpose": "login"}"#;
    let first = app.send_with_key("7f0c5c1e-retry", body).await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert!(!replayed(&first));
    let code = app.last_code().await;

    // The same request, spaced and ordered differently, as a client library might re-serialise it.
    let again = r#"{ "purpose":"login","to":"+447911123456",  "channel":"sms" }"#;
    app.advance(5);
    for _ in 0..2 {
        let retry = app.send_with_key("7f0c5c1e-retry", again).await;
        assert_eq!(retry.status, 202, "{}", retry.body);
        assert!(replayed(&retry), "a replay is marked");
        assert_eq!(retry.body, first.body, "the first reply, unchanged");
    }
    assert_eq!(app.outbox().await.len(), 1, "one message in all");

    let verified = app.verify(first.body["id"].as_str().unwrap(), &code).await;
    assert_eq!(verified.status, 200, "the one code sent still works");
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused_and_nothing_is_sent() {
    let app = spawn_app().await;
    let first = app
        .send_with_key("key-1", r#"{"channel": "sms", "to": "+447911123456"}"#)
        .await;
    assert_eq!(first.status, 202, "{}", first.body);
    let reply = app
        .send_with_key(
            "key-1",
            r#"{"channel": "sms", "to": "+447911123456", "purpose": "login"}"#,
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(reply.body["type"], REUSED);
    assert_eq!(app.outbox().await.len(), 1);
    // Keys are scoped to their caller and destination: for another destination the same key is a
    // new request of its own (tests/api/trust_boundary.rs: another caller's).
    let other = app
        .send_with_key("key-1", r#"{"channel": "sms", "to": "+447911123457"}"#)
        .await;
    assert_eq!(other.status, 202, "{}", other.body);
    assert!(!replayed(&other));
    assert_ne!(other.body["id"], first.body["id"]);
    assert_eq!(app.outbox().await.len(), 2);
}

#[tokio::test]
async fn a_refused_send_does_not_keep_its_key() {
    let app = spawn_app().await;
    let body = r#"{"channel": "email", "to": "ana@example.com"}"#;
    assert_eq!(app.send_with_key("first", body).await.status, 202);
    // Inside the cooldown: refused, and the key stays free.
    let refused = app.send_with_key("second", body).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    app.advance(refused.retry_after());
    let retried = app.send_with_key("second", body).await;
    assert_eq!(retried.status, 202, "decided afresh: {}", retried.body);
    assert!(!replayed(&retried));
    assert_eq!(app.outbox().await.len(), 2);
}

#[tokio::test]
async fn a_kept_reply_is_forgotten_after_a_day() {
    let app = spawn_app().await;
    let body = r#"{"channel": "email", "to": "ana@example.com"}"#;
    let first = app.send_with_key("daily", body).await;
    assert_eq!(first.status, 202);
    app.advance(24 * 60 * 60 - 1);
    assert!(replayed(&app.send_with_key("daily", body).await));
    app.advance(1);
    let later = app.send_with_key("daily", body).await;
    assert_eq!(later.status, 202, "{}", later.body);
    assert!(!replayed(&later));
    assert_ne!(later.body["id"], first.body["id"]);
}

#[tokio::test]
async fn concurrent_retries_deliver_once() {
    let app = spawn_app().await;
    let body = r#"{"channel": "email", "to": "race@example.com"}"#;
    let replies =
        futures::future::join_all((0..8).map(|_| app.send_with_key("raced-key", body))).await;
    let fresh: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == 202 && !replayed(r))
        .collect();
    assert_eq!(fresh.len(), 1, "exactly one send went out");
    for reply in &replies {
        match reply.status {
            202 => assert_eq!(reply.body["id"], fresh[0].body["id"]),
            409 => {
                assert_eq!(
                    reply.body["type"],
                    "urn:problem-type:otp-lambda:idempotency-key-in-use"
                );
                assert!(reply.retry_after() >= 1);
            }
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(app.outbox().await.len(), 1);
}

#[tokio::test]
async fn a_malformed_key_is_a_400_naming_the_header() {
    let app = spawn_app().await;
    let long = "k".repeat(256);
    for key in ["two words", long.as_str(), "naïve"] {
        let reply = app
            .send_with_key(key, r#"{"channel": "email", "to": "ana@example.com"}"#)
            .await;
        assert_eq!(reply.status, 400, "{key}: {}", reply.body);
        assert_eq!(reply.body["field"], "Idempotency-Key");
    }
    assert!(app.outbox().await.is_empty());
}

/// Fails its first delivery, then delivers.
#[derive(Clone, Default)]
struct FailsOnce {
    failed: Arc<AtomicBool>,
    delivered: Recorder,
}

impl Notifier for FailsOnce {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        if !self.failed.swap(true, Ordering::SeqCst) {
            return Err(DeliveryError {
                channel: message.channel,
                source: anyhow::anyhow!("provider down"),
            });
        }
        self.delivered.deliver(message).await
    }
}

#[tokio::test]
async fn after_a_failed_delivery_the_key_is_free_and_a_retry_sends_a_working_code() {
    crate::logs::captured();
    let notifier = FailsOnce::default();
    let mut settings = Settings::default();
    settings.send_policy.resend_cooldown = std::time::Duration::ZERO;
    let secret = ServiceSecret::parse("idempotency tests secret, 32+ bytes").unwrap();
    let otp = Otp::new(
        MemoryStore::new(),
        notifier.clone(),
        Arc::new(ManualClock::default()),
        Arc::new(OsRandomness),
        Keys::derive(&secret),
        settings,
    );
    let send = || {
        lambda_http::http::Request::post("/v1/otp/send")
            .header("content-type", "application/json")
            .header("idempotency-key", "after-failure")
            .body(lambda_http::Body::Text(
                json!({"channel": "sms", "to": "+447911123456"}).to_string(),
            ))
            .unwrap()
    };
    let failed = otp_shared::http::send(&otp, send()).await.unwrap();
    assert_eq!(failed.status(), 502);

    let retried = otp_shared::http::send(&otp, send()).await.unwrap();
    assert_eq!(retried.status(), 202, "the key was released");
    assert!(!retried.headers().contains_key("idempotent-replayed"));
    let reply: Value = serde_json::from_slice(retried.body().as_ref()).unwrap();
    let code = notifier
        .delivered
        .last()
        .text
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    crate::logs::sensitive(&code);

    let verify = |id: &str| {
        lambda_http::http::Request::post("/v1/otp/verify")
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(
                json!({"id": id, "code": code}).to_string(),
            ))
            .unwrap()
    };
    let approved = otp_shared::http::verify(&otp, verify(reply["id"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
}

use std::time::Duration;

use otp_shared::Settings;
use otp_shared::ports::SendPolicy;
use otp_shared::profiles::{Profile, Profiles};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn a_resend_replaces_the_pending_code() {
    let app = spawn_app().await;
    let (first, first_code) = app.issue("+447911123456").await;
    app.advance(30);
    let (second, second_code) = app.issue("+447911123456").await;
    assert_ne!(first, second);

    let old = app.verify(&first, &first_code).await;
    assert_eq!(old.status, 410, "{}", old.body);
    assert_eq!(old.body["status"], "expired");
    assert_eq!(
        app.verify(&second, &second_code).await.body["status"],
        "approved"
    );
}

#[tokio::test]
async fn a_resend_inside_the_cooldown_is_429_with_retry_after() {
    let app = spawn_app().await;
    let sent = app.send_sms("+447911123456").await;
    let code = app.last_code().await;
    app.advance(10);

    let reply = app
        .send(&json!({"channel": "sms", "to": "+447911123456"}))
        .await;

    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.retry_after(), 20);
    assert_eq!(
        reply.body["type"],
        "urn:problem-type:otp-lambda:resend-cooldown"
    );
    assert_eq!(reply.body["retry_after"], 20);
    assert_eq!(app.outbox().await.len(), 1, "nothing was delivered");
    // The refused resend left the pending code alone.
    let id = sent.body["id"].as_str().unwrap();
    assert_eq!(app.verify(id, &code).await.body["status"], "approved");
}

#[tokio::test]
async fn the_cooldown_is_per_purpose() {
    let app = spawn_app().await;
    app.send_sms("+447911123456").await;
    let reply = app
        .send(&json!({"channel": "sms", "to": "+447911123456", "purpose": "change-payment"}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

#[tokio::test]
async fn the_sixth_send_in_fifteen_minutes_is_429_until_the_oldest_leaves_the_window() {
    let app = spawn_app().await;
    for _ in 0..5 {
        app.send_sms("+447911123456").await;
        app.advance(60);
    }
    // Five sends at 0, 60, …, 240 s; now it is 300 s.
    let reply = app
        .send(&json!({"channel": "sms", "to": "+447911123456"}))
        .await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(
        reply.body["type"],
        "urn:problem-type:otp-lambda:destination-send-limit"
    );
    assert_eq!(reply.retry_after(), 600);

    // Other purposes share the destination's cap; other destinations do not.
    let other_purpose = app
        .send(&json!({"channel": "sms", "to": "+447911123456", "purpose": "login"}))
        .await;
    assert_eq!(other_purpose.status, 429);
    app.send_sms("+447911123457").await;

    app.advance(600);
    app.send_sms("+447911123456").await;
}

#[tokio::test]
async fn limits_follow_the_configuration() {
    let settings = Settings {
        send_policy: SendPolicy {
            resend_cooldown: Duration::from_secs(5),
            max_sends: 2,
            window: Duration::from_secs(120),
        },
        profiles: Profiles::only(Profile {
            max_attempts: 2,
            ..Settings::default()
                .profiles
                .default_profile()
                .as_ref()
                .clone()
        }),
        ..Settings::default()
    };
    let app = spawn_app_with(settings).await;
    let sent = app.send_sms("+14155552671").await;
    assert_eq!(sent.body["attempts_remaining"], 2);
    app.advance(5);
    app.send_sms("+14155552671").await;
    app.advance(5);
    let reply = app
        .send(&json!({"channel": "sms", "to": "+14155552671"}))
        .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.retry_after(), 110);
}

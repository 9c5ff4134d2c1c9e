//! Email limits per mailbox, on both stores: the `+tag` variants of an address, and Gmail's dotted
//! ones, are one destination to the cooldown and the cap, while the message and the proof token
//! keep the address as it was sent; and the hourly limit on all email.

use otp_shared::Settings;
use otp_shared::abuse::VelocityLimits;
use otp_shared::metrics::MetricEvent;
use otp_shared::ports::Clock;
use serde_json::{Value, json};
use time::Time;

use crate::helpers::{Reply, TestApp, spawn_app, spawn_app_with};

fn email(to: &str) -> Value {
    json!({"channel": "email", "to": to})
}

fn problem_type(reply: &Reply) -> &str {
    reply.body["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("urn:problem-type:otp-lambda:")
}

/// The code in the newest email: the built-in email's third line.
async fn last_email_code(app: &TestApp) -> String {
    let outbox = app.outbox().await;
    let body = outbox.last().expect("an email was sent")["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = body.lines().nth(2).unwrap().trim().to_owned();
    crate::logs::sensitive(&code);
    code
}

/// The claims of a proof token, read without checking it (tests/api/proof.rs checks tokens).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(payload.as_bytes())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn plus_tagged_addresses_share_one_mailboxs_cooldown_and_cap() {
    let app = spawn_app().await;
    let first = app.send(&email("ana+1@example.com")).await;
    assert_eq!(first.status, 202, "{}", first.body);

    let tagged = app.send(&email("Ana+2@Example.com")).await;
    assert_eq!(tagged.status, 429, "{}", tagged.body);
    assert_eq!(problem_type(&tagged), "resend-cooldown");
    let untagged = app.send(&email("ana@example.com")).await;
    assert_eq!(problem_type(&untagged), "resend-cooldown");
    // Another mailbox at the same domain is another destination.
    let other = app.send(&email("bea+1@example.com")).await;
    assert_eq!(other.status, 202, "{}", other.body);

    // The cap (5 per 15 minutes) counts the mailbox, whichever tag each send used.
    for tag in 2..=5 {
        app.advance(31);
        let reply = app.send(&email(&format!("ana+{tag}@example.com"))).await;
        assert_eq!(reply.status, 202, "send {tag}: {}", reply.body);
    }
    app.advance(31);
    let capped = app.send(&email("ana+6@example.com")).await;
    assert_eq!(capped.status, 429, "{}", capped.body);
    assert_eq!(problem_type(&capped), "destination-send-limit");
    assert!(
        !capped.body.to_string().contains("ana+6"),
        "the reply does not repeat the address"
    );
    assert_eq!(
        app.outbox().await.len(),
        6,
        "five to ana's mailbox, one to bea's"
    );
}

#[tokio::test]
async fn gmail_ignores_dots_and_googlemail_is_gmail() {
    let app = spawn_app().await;
    let first = app.send(&email("ana.lima@gmail.com")).await;
    assert_eq!(first.status, 202, "{}", first.body);
    for variant in [
        "analima@gmail.com",
        "A.N.A.Lima@GMail.com",
        "ana.lima+otp@googlemail.com",
    ] {
        let reply = app.send(&email(variant)).await;
        assert_eq!(reply.status, 429, "{variant}: {}", reply.body);
        assert_eq!(problem_type(&reply), "resend-cooldown", "{variant}");
    }
    // Dots are only Gmail's to ignore.
    let elsewhere = app.send(&email("ana.lima@example.com")).await;
    assert_eq!(elsewhere.status, 202, "{}", elsewhere.body);
    let undotted = app.send(&email("analima@example.com")).await;
    assert_eq!(undotted.status, 202, "{}", undotted.body);
}

#[tokio::test]
async fn the_message_and_the_proof_token_keep_the_address_as_sent() {
    let app = spawn_app().await;
    let sent = app.send(&email("Ana.Lima+Login@GoogleMail.com")).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    assert_eq!(sent.body["to"], "A•••@googlemail.com");
    let outbox = app.outbox().await;
    // The local part as typed; the domain, which is case-insensitive, in lower case.
    assert_eq!(
        outbox.last().unwrap()["to"],
        "Ana.Lima+Login@googlemail.com"
    );

    let code = last_email_code(&app).await;
    let approved = app.verify(sent.body["id"].as_str().unwrap(), &code).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    let token = approved.body["token"].as_str().expect("a token");
    crate::logs::sensitive(token);
    let claims = claims(token);
    assert_eq!(claims["email"], "Ana.Lima+Login@googlemail.com");
    assert_eq!(claims["email_verified"], true);
}

/// Starts the app's clock at `minute` past a whole hour, so a test knows when its hour ends.
async fn app_at_minute(settings: Settings, minute: u8) -> TestApp {
    let app = spawn_app_with(settings).await;
    let now = app.clock.now();
    app.clock
        .set(now.replace_time(Time::from_hms(now.hour(), minute, 0).unwrap()));
    app
}

#[tokio::test]
async fn all_email_is_limited_per_hour_with_its_own_problem_type() {
    let app = app_at_minute(
        Settings {
            limits: VelocityLimits {
                global_email_per_hour: 2,
                ..VelocityLimits::default()
            },
            ..Settings::default()
        },
        40,
    )
    .await;
    for to in ["ana@example.com", "bea@example.com"] {
        let reply = app.send(&email(to)).await;
        assert_eq!(reply.status, 202, "{to}: {}", reply.body);
    }
    let third = app.send(&email("cid@example.com")).await;
    assert_eq!(third.status, 429, "{}", third.body);
    assert_eq!(problem_type(&third), "global-email-limit");
    assert_eq!(third.retry_after(), 20 * 60, "until the hour ends");
    assert_eq!(third.body["retry_after"], 20 * 60);
    assert!(!third.body.to_string().contains("cid@"), "{}", third.body);
    // SMS is not email.
    let sms = app
        .send(&json!({"channel": "sms", "to": "+447912345678"}))
        .await;
    assert_eq!(sms.status, 202, "{}", sms.body);
    // An SMS refused by an SMS rule falls back to email, which is full too: that refusal is the reply.
    let fallback = app
        .send(
            &json!({"channel": "sms", "to": "+917012345678", "fallback": email("dee@example.com")}),
        )
        .await;
    assert_eq!(fallback.status, 429, "{}", fallback.body);
    assert_eq!(problem_type(&fallback), "global-email-limit");
    assert_eq!(app.outbox().await.len(), 3, "two emails and the SMS");
    assert_eq!(
        app.metrics.count(|e| matches!(
            e,
            MetricEvent::SendRefused {
                reason: "global-email-limit"
            }
        )),
        2
    );

    app.advance(20 * 60);
    let next_hour = app.send(&email("cid@example.com")).await;
    assert_eq!(next_hour.status, 202, "{}", next_hour.body);
}

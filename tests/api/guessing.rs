//! The guess budget of a destination (issue 19): wrong codes counted per client network and per
//! destination across codes and purposes, locks that also stop codes already issued, and a real user
//! on another network who is never locked out by a stranger's guessing. On both stores.

use std::time::Duration;

use otp_shared::abuse::VelocityLimits;
use otp_shared::config::Settings;
use otp_shared::metrics::MetricEvent;
use otp_shared::ports::SendPolicy;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app_with, wrong_code};

const ATTACKER: &str = "127.0.0.2";
const USER: &str = "127.0.0.3";

/// Limits loose enough that only the guess budget speaks: no cooldown, a high send cap and quotas.
fn only_the_guess_budget() -> Settings {
    Settings {
        send_policy: SendPolicy {
            resend_cooldown: Duration::ZERO,
            max_sends: 1000,
            window: Duration::from_secs(900),
        },
        limits: VelocityLimits {
            client_sends_per_hour: 1000,
            country_sms_per_hour: 10_000,
            global_sms_per_hour: 10_000,
            ..VelocityLimits::default()
        },
        ..Settings::default()
    }
}

impl TestApp {
    /// An SMS code for `to` under `purpose`, asked for from `from`: `(id, code)`.
    async fn issue_from(&self, from: &str, to: &str, purpose: &str) -> (String, String) {
        let reply = self
            .post_from(
                from,
                "/v1/otp/send",
                &json!({"channel": "sms", "to": to, "purpose": purpose}),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        let id = reply.body["id"].as_str().unwrap().to_owned();
        (id, self.last_code().await)
    }

    async fn verify_from(&self, from: &str, id: &str, code: &str) -> Reply {
        self.post_from(from, "/v1/otp/verify", &json!({"id": id, "code": code}))
            .await
    }
}

/// A `locked` reply: 429 with `Retry-After` and `locked_until`, about `seconds` away.
fn assert_locked_for(reply: &Reply, seconds: u64) {
    assert_eq!(reply.status, 429, "{}", reply.body);
    let retry_after = reply.retry_after();
    assert!(
        retry_after <= seconds && retry_after + 5 >= seconds,
        "Retry-After {retry_after}, expected about {seconds}"
    );
    let until = match reply.body.get("locked_until") {
        Some(Value::String(until)) => until.clone(),
        _ => panic!("no locked_until: {}", reply.body),
    };
    assert!(until.ends_with('Z'), "{until}");
}

#[tokio::test]
async fn ten_wrong_codes_from_one_network_lock_it_out_of_the_destination_but_not_the_user() {
    let app = spawn_app_with(only_the_guess_budget()).await;
    let to = "+447911120001";
    // Codes under three purposes, each with 5 attempts of its own: the budget spans them all.
    let mut codes = Vec::new();
    for purpose in ["login", "change-payment", "reset"] {
        codes.push(app.issue_from(ATTACKER, to, purpose).await);
    }
    for n in 0..10 {
        let (id, code) = &codes[n % 3];
        let reply = app.verify_from(ATTACKER, id, &wrong_code(code)).await;
        assert_eq!(
            reply.body["status"], "incorrect",
            "guess {n}: {}",
            reply.body
        );
    }
    // The 11th guess, whichever code it is for: locked for 15 minutes, not even checked.
    let (id, code) = &codes[1];
    let eleventh = app.verify_from(ATTACKER, id, &wrong_code(code)).await;
    assert_eq!(eleventh.body["status"], "locked");
    assert_locked_for(&eleventh, 900);
    // The right code of a live code is refused from that network while it is locked…
    let (id, code) = &codes[2];
    let right = app.verify_from(ATTACKER, id, code).await;
    assert_eq!(right.body["status"], "locked", "{}", right.body);
    // …and so is a new code for the destination.
    let send = app
        .post_from(
            ATTACKER,
            "/v1/otp/send",
            &json!({"channel": "sms", "to": to, "purpose": "other"}),
        )
        .await;
    assert_eq!(send.status, 429, "{}", send.body);
    assert_eq!(
        send.body["type"],
        "urn:problem-type:otp-lambda:destination-locked"
    );
    assert!(send.body["locked_until"].is_string(), "{}", send.body);
    assert!(send.retry_after() > 800);
    // The user on their own network still gets a fresh code and uses it, and a live one too.
    let (fresh, fresh_code) = app.issue_from(USER, to, "login").await;
    assert_eq!(
        app.verify_from(USER, &fresh, &fresh_code).await.body["status"],
        "approved"
    );
    let (id, code) = &codes[2];
    assert_eq!(
        app.verify_from(USER, id, code).await.body["status"],
        "approved"
    );
    assert_eq!(
        app.metrics
            .count(|e| matches!(e, MetricEvent::GuessLock { everyone: false })),
        1
    );

    // After 15 minutes the network may guess again; its next lock lasts twice as long.
    app.advance(900);
    let mut last = None;
    for _ in 0..2 {
        let (id, code) = app.issue_from(ATTACKER, to, "again").await;
        for _ in 0..5 {
            last = Some(app.verify_from(ATTACKER, &id, &wrong_code(&code)).await);
        }
    }
    assert_eq!(last.unwrap().body["status"], "incorrect");
    let (id, code) = app.issue_from(USER, to, "again").await;
    let locked = app.verify_from(ATTACKER, &id, &code).await;
    assert_eq!(locked.body["status"], "locked");
    assert_locked_for(&locked, 1800);
}

#[tokio::test]
async fn a_success_from_the_network_starts_its_count_again() {
    let app = spawn_app_with(only_the_guess_budget()).await;
    let to = "+447911120002";
    let guess = |count: usize, purpose: &'static str| {
        let app = &app;
        async move {
            let mut replies = Vec::new();
            while replies.len() < count {
                let (id, code) = app.issue_from(ATTACKER, to, purpose).await;
                for _ in 0..(count - replies.len()).min(4) {
                    replies.push(app.verify_from(ATTACKER, &id, &wrong_code(&code)).await);
                }
            }
            replies
        }
    };
    for reply in guess(9, "login").await {
        assert_eq!(reply.body["status"], "incorrect");
    }
    // A typo then the right code, on one code: the network's count starts again.
    let (id, code) = app.issue_from(ATTACKER, to, "login").await;
    assert_eq!(
        app.verify_from(ATTACKER, &id, &code).await.body["status"],
        "approved"
    );
    for reply in guess(9, "payment").await {
        assert_eq!(reply.body["status"], "incorrect", "{}", reply.body);
    }
    let (id, code) = app.issue_from(ATTACKER, to, "payment").await;
    assert_eq!(
        app.verify_from(ATTACKER, &id, &wrong_code(&code))
            .await
            .body["status"],
        "incorrect",
        "the 10th in a row"
    );
    assert_eq!(
        app.verify_from(ATTACKER, &id, &code).await.body["status"],
        "locked"
    );
}

#[tokio::test]
async fn a_destination_takes_at_most_100_wrong_codes_a_day_from_all_networks_together() {
    let app = spawn_app_with(only_the_guess_budget()).await;
    let to = "+447911120003";
    let (user_id, user_code) = app.issue_from(USER, to, "user").await;
    // 20 networks, each 5 wrong codes on a code of its own: none reaches its own budget of 10.
    for n in 0..20 {
        let from = format!("127.0.1.{}", n + 1);
        let (id, code) = app.issue_from(&from, to, &format!("p{n}")).await;
        for attempt in 0..5 {
            let reply = app.verify_from(&from, &id, &wrong_code(&code)).await;
            assert_eq!(
                reply.body["status"], "incorrect",
                "network {n}, attempt {attempt}: {}",
                reply.body
            );
        }
    }
    // The 100th locked the destination for everyone, the user's network included, a day long.
    let refused = app.verify_from(USER, &user_id, &user_code).await;
    assert_eq!(refused.body["status"], "locked", "{}", refused.body);
    assert!(refused.retry_after() > 23 * 3600);
    assert_eq!(
        app.metrics
            .count(|e| matches!(e, MetricEvent::GuessLock { everyone: true })),
        1
    );
    let refused = app
        .post_from(USER, "/v1/otp/send", &json!({"channel": "sms", "to": to}))
        .await;
    assert_eq!(
        refused.body["type"],
        "urn:problem-type:otp-lambda:destination-locked"
    );
    assert!(
        refused.retry_after() > 23 * 3600,
        "{}",
        refused.retry_after()
    );
    // Once the window lets go of the first hour's failures, the destination takes codes again.
    app.advance(25 * 3600);
    let (id, code) = app.issue_from(USER, to, "late").await;
    assert_eq!(
        app.verify_from(USER, &id, &code).await.body["status"],
        "approved"
    );
}

#[tokio::test]
async fn a_day_without_a_wrong_code_starts_a_networks_count_again() {
    let app = spawn_app_with(only_the_guess_budget()).await;
    let to = "+447911120004";
    let nine_wrong = || async {
        for purpose in ["a", "b", "c"] {
            let (id, code) = app.issue_from(ATTACKER, to, purpose).await;
            for _ in 0..3 {
                let reply = app.verify_from(ATTACKER, &id, &wrong_code(&code)).await;
                assert_eq!(reply.body["status"], "incorrect", "{}", reply.body);
            }
        }
    };
    nine_wrong().await;
    app.advance(24 * 3600);
    // Nine more, a day later: the run lapsed, so none of them is the 10th in a row.
    nine_wrong().await;
    let (id, code) = app.issue_from(ATTACKER, to, "d").await;
    assert_eq!(
        app.verify_from(ATTACKER, &id, &wrong_code(&code))
            .await
            .body["status"],
        "incorrect"
    );
    assert_eq!(
        app.verify_from(ATTACKER, &id, &code).await.body["status"],
        "locked",
        "the 10th of the new run locked it"
    );
}

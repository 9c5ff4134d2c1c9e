//! The defences against abuse, on both stores: velocity limits per client address, per country
//! calling code and in all; the SMS allow-list and line types; the daily SMS budget; the email
//! fallback; test destinations; the Web OTP and SMS Retriever lines; and the metrics each reports.

use otp_shared::abuse::{SmsRules, TestDestinations, VelocityLimits};
use otp_shared::adapters::RecordedMetrics;
use otp_shared::domain::{Channel, Money};
use otp_shared::metrics::MetricEvent;
use otp_shared::ports::Clock;
use otp_shared::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};
use otp_shared::{ServiceSecret, Settings};
use serde_json::{Value, json};
use time::Time;

use crate::helpers::{TestApp, spawn_app_with};

/// Settings with the given limits, everything else default.
fn limits(client: u32, country: u32, global: u32) -> Settings {
    Settings {
        limits: VelocityLimits {
            client_sends_per_hour: client,
            country_sms_per_hour: country,
            global_sms_per_hour: global,
            ..VelocityLimits::default()
        },
        ..Settings::default()
    }
}

/// Starts the app's clock at `minute` past a whole hour, so a test knows when its hour ends.
async fn app_at_minute(settings: Settings, minute: u8) -> TestApp {
    let app = spawn_app_with(settings).await;
    let now = app.clock.now();
    app.clock
        .set(now.replace_time(Time::from_hms(now.hour(), minute, 0).unwrap()));
    app
}

fn sms(to: &str) -> Value {
    json!({"channel": "sms", "to": to})
}

fn problem_type(reply: &crate::helpers::Reply) -> &str {
    reply.body["type"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("urn:problem-type:otp-lambda:")
}

fn refusals(app: &TestApp, reason: &str) -> usize {
    app.metrics
        .count(|e| matches!(e, MetricEvent::SendRefused { reason: r } if *r == reason))
}

#[tokio::test]
async fn one_client_address_gets_its_hourly_sends_and_then_429_until_the_hour_ends() {
    let app = app_at_minute(limits(3, 200, 1000), 45).await;
    // Different destinations and channels: the limit is the client's, whatever it asks for.
    for to in [
        sms("+447912345678"),
        json!({"channel": "email", "to": "ana@example.com"}),
        sms("+14155552671"),
    ] {
        let reply = app.send(&to).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
    }
    let refused = app
        .send(&json!({"channel": "email", "to": "bea@example.com"}))
        .await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(problem_type(&refused), "client-send-limit");
    assert_eq!(refused.retry_after(), 15 * 60, "until the hour ends");
    assert_eq!(refused.body["retry_after"], 15 * 60);
    assert_eq!(app.outbox().await.len(), 3, "nothing sent for the refusal");
    assert_eq!(refusals(&app, "client-send-limit"), 1);

    app.advance(15 * 60);
    let next_hour = app
        .send(&json!({"channel": "email", "to": "bea@example.com"}))
        .await;
    assert_eq!(next_hour.status, 202, "{}", next_hour.body);
}

#[tokio::test]
async fn sms_per_country_and_in_all_are_limited_per_hour() {
    let app = app_at_minute(limits(100, 2, 3), 0).await;
    for to in ["+447912345678", "+447912345679"] {
        assert_eq!(app.send(&sms(to)).await.status, 202);
    }
    let third_gb = app.send(&sms("+447912345670")).await;
    assert_eq!(third_gb.status, 429, "{}", third_gb.body);
    assert_eq!(problem_type(&third_gb), "country-send-limit");
    assert_eq!(third_gb.retry_after(), 3600);

    // Another country calling code still has room, until the global limit.
    assert_eq!(app.send(&sms("+14155552671")).await.status, 202);
    let fourth = app.send(&sms("+14155552672")).await;
    assert_eq!(fourth.status, 429, "{}", fourth.body);
    assert_eq!(problem_type(&fourth), "global-sms-limit");
    // Email is not SMS: neither limit applies.
    let email = app
        .send(&json!({"channel": "email", "to": "ana@example.com"}))
        .await;
    assert_eq!(email.status, 202, "{}", email.body);
    assert_eq!(app.outbox().await.len(), 4);
    assert_eq!(refusals(&app, "country-send-limit"), 1);
    assert_eq!(refusals(&app, "global-sms-limit"), 1);
}

#[tokio::test]
async fn sms_outside_the_allow_list_or_to_non_mobiles_is_refused_and_never_sent() {
    let app = spawn_app_with(Settings::default()).await;
    for (to, slug) in [
        ("+917012345678", "sms-country-not-allowed"),
        ("+2348031234567", "sms-country-not-allowed"),
        ("+449098790000", "sms-number-type-not-allowed"),
        ("+33810123456", "sms-number-type-not-allowed"),
        ("+442079460000", "sms-number-type-not-allowed"),
        ("+19005550100", "sms-number-type-not-allowed"),
    ] {
        let reply = app.send(&sms(to)).await;
        assert_eq!(reply.status, 422, "{to}: {}", reply.body);
        assert_eq!(problem_type(&reply), slug, "{to}");
        assert!(
            !reply.body.to_string().contains(&to[3..]),
            "the reply does not repeat the number"
        );
    }
    assert!(app.outbox().await.is_empty(), "nothing was sent");
    assert_eq!(refusals(&app, "sms-country-not-allowed"), 2);
    assert_eq!(refusals(&app, "sms-number-type-not-allowed"), 4);

    // The allow-list is configuration: India allowed, the UK not.
    let india = spawn_app_with(Settings {
        sms: SmsRules {
            allowed_countries: SmsRules::parse_countries("IN").unwrap(),
            ..SmsRules::default()
        },
        ..Settings::default()
    })
    .await;
    assert_eq!(india.send(&sms("+917012345678")).await.status, 202);
    assert_eq!(india.send(&sms("+447912345678")).await.status, 422);
}

fn budget(prices: &str, default_price: &str, daily: &str) -> Settings {
    Settings {
        sms: SmsRules {
            prices: SmsRules::parse_prices(prices).unwrap(),
            default_price: Money::parse(default_price).unwrap(),
            daily_budget: Money::parse(daily).unwrap(),
            ..SmsRules::default()
        },
        ..Settings::default()
    }
}

#[tokio::test]
async fn the_daily_sms_budget_is_spent_at_the_configured_prices_then_503_until_midnight() {
    let app = spawn_app_with(budget("GB=0.04", "0.10", "0.18")).await;
    let now = app.clock.now();
    app.clock
        .set(now.replace_time(Time::from_hms(22, 0, 0).unwrap()));
    // 0.04 + 0.10 + 0.04 = 0.18: exactly the budget.
    for to in ["+447912345678", "+14155552671", "+447912345679"] {
        let reply = app.send(&sms(to)).await;
        assert_eq!(reply.status, 202, "{to}: {}", reply.body);
    }
    let over = app.send(&sms("+447912345670")).await;
    assert_eq!(over.status, 503, "{}", over.body);
    assert_eq!(problem_type(&over), "sms-budget-exhausted");
    assert_eq!(over.retry_after(), 2 * 3600, "until midnight UTC");
    assert_eq!(app.outbox().await.len(), 3);
    // Email costs nothing here.
    let email = app
        .send(&json!({"channel": "email", "to": "ana@example.com"}))
        .await;
    assert_eq!(email.status, 202);

    let spend: Vec<(f64, f64)> = app
        .metrics
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MetricEvent::SmsSpend { amount, budget, .. } => Some((amount, budget)),
            _ => None,
        })
        .collect();
    assert_eq!(spend, [(0.04, 0.18), (0.10, 0.18), (0.04, 0.18)]);
    assert_eq!(refusals(&app, "sms-budget-exhausted"), 1);

    app.advance(2 * 3600);
    assert_eq!(
        app.send(&sms("+447912345670")).await.status,
        202,
        "a new day"
    );
}

#[tokio::test]
async fn a_refused_sms_falls_back_to_email_and_the_reply_says_so() {
    let app = spawn_app_with(budget("", "0.10", "0.10")).await;
    assert_eq!(app.send(&sms("+447912345678")).await.status, 202);
    let fallback = json!({"channel": "email", "to": "ana.lima@example.com"});

    for (to, reason) in [
        ("+447912345679", "sms-budget-exhausted"),
        ("+917012345678", "sms-country-not-allowed"),
        ("+449098790000", "sms-number-type-not-allowed"),
    ] {
        let reply = app
            .server_send(&json!({"channel": "sms", "to": to, "purpose": reason, "fallback": fallback, "template": "{code} is your code"}))
            .await;
        assert_eq!(reply.status, 202, "{to}: {}", reply.body);
        assert_eq!(reply.body["channel"], "email");
        assert_eq!(reply.body["to"], "a•••@example.com");
        assert_eq!(
            reply.body["fallback"],
            json!({"from": "sms", "reason": reason})
        );

        let outbox = app.outbox().await;
        let last = outbox.last().unwrap();
        assert_eq!(last["channel"], "email");
        assert_eq!(last["to"], "ana.lima@example.com");
        let code = app.last_code().await;
        let verified = app.verify(reply.body["id"].as_str().unwrap(), &code).await;
        assert_eq!(verified.status, 200, "{}", verified.body);
        assert_eq!(verified.body["channel"], "email");
    }
    assert_eq!(app.outbox().await.len(), 4, "one SMS, three emails");
    assert_eq!(
        app.metrics
            .count(|e| matches!(e, MetricEvent::FallbackUsed { .. })),
        3
    );
}

#[tokio::test]
async fn the_clients_own_limit_has_no_fallback() {
    let app = spawn_app_with(limits(1, 200, 1000)).await;
    let fallback = json!({"channel": "email", "to": "ana@example.com"});
    let first = app
        .send(&json!({"channel": "sms", "to": "+447912345678", "fallback": fallback}))
        .await;
    assert_eq!(first.status, 202);
    assert_eq!(first.body["channel"], "sms", "no refusal, no fallback");
    assert!(first.body.get("fallback").is_none());
    let second = app
        .send(&json!({"channel": "sms", "to": "+447912345679", "fallback": fallback}))
        .await;
    assert_eq!(second.status, 429, "{}", second.body);
    assert_eq!(problem_type(&second), "client-send-limit");
    assert_eq!(app.outbox().await.len(), 1);
}

/// Fails every SMS, keeps every email: an SMS provider that is down.
#[derive(Clone, Default)]
struct SmsDown(crate::helpers::Recorder);

impl Notifier for SmsDown {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        if message.channel == Channel::Sms {
            return Err(DeliveryError {
                channel: Channel::Sms,
                source: anyhow::anyhow!("SNS said no"),
            });
        }
        self.0.deliver(message).await
    }
}

#[tokio::test]
async fn an_sms_the_provider_refuses_goes_by_email_and_its_code_is_withdrawn() {
    let secret = ServiceSecret::parse("a test secret of at least thirty-two bytes").unwrap();
    let delivery = SmsDown::default();
    let metrics = std::sync::Arc::new(RecordedMetrics::new());
    let otp = crate::helpers::otp_with(delivery.clone(), &secret).with_metrics(metrics.clone());
    let request = |body: Value| {
        lambda_http::http::Request::post("/v1/otp/send")
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(body.to_string()))
            .unwrap()
    };
    let reply = otp_shared::http::send(
        &otp,
        request(json!({"channel": "sms", "to": "+447912345678", "fallback": {"channel": "email", "to": "ana@example.com"}})),
    )
    .await
    .unwrap();
    assert_eq!(reply.status(), 202);
    let body: Value = serde_json::from_slice(reply.body().as_ref()).unwrap();
    assert_eq!(body["channel"], "email");
    assert_eq!(body["fallback"]["reason"], "delivery-failed");
    let email = delivery.0.last();
    assert_eq!(email.to, "ana@example.com");
    assert_eq!(
        metrics.count(|e| matches!(
            e,
            MetricEvent::DeliveryFailed {
                channel: Channel::Sms
            }
        )),
        1
    );

    // Without a fallback the failure is the reply.
    let failed = otp_shared::http::send(
        &otp,
        request(json!({"channel": "sms", "to": "+447912345679"})),
    )
    .await
    .unwrap();
    assert_eq!(failed.status(), 502);
}

#[tokio::test]
async fn a_fallback_is_only_for_sms_and_only_by_email() {
    let app = spawn_app_with(Settings::default()).await;
    for (body, detail) in [
        (
            json!({"channel": "email", "to": "ana@example.com", "fallback": {"channel": "email", "to": "bea@example.com"}}),
            "SMS sends only",
        ),
        (
            json!({"channel": "sms", "to": "+447912345678", "fallback": {"channel": "sms", "to": "+14155552671"}}),
            "\"channel\": \"email\"",
        ),
        (
            json!({"channel": "sms", "to": "+447912345678", "fallback": {"channel": "email", "to": "not an address"}}),
            "`to` is not an email address",
        ),
        (
            json!({"channel": "sms", "to": "+447912345678", "fallback": "ana@example.com"}),
            "must be an object",
        ),
        (
            json!({"channel": "sms", "to": "+447912345678", "fallback": {"channel": "email", "to": "a@example.com", "x": 1}}),
            "must be an object",
        ),
    ] {
        let reply = app.send(&body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.body["field"], "fallback");
        let got = reply.body["detail"].as_str().unwrap();
        assert!(got.contains(detail), "{got:?} should say {detail:?}");
    }
}

#[tokio::test]
async fn test_destinations_get_their_fixed_code_no_message_and_no_sms_limits() {
    let settings = Settings {
        test_destinations: TestDestinations::parse(
            "+12025550143=13579024,Review@Example.com=ab12cd34",
        )
        .unwrap(),
        ..limits(10, 1, 1)
    };
    let app = spawn_app_with(settings).await;
    // More sends than the country, global, cooldown and cap limits allow: no message, no spend.
    for round in 0..8 {
        let reply = app.send(&sms("+1 202 555 0143")).await;
        assert_eq!(reply.status, 202, "round {round}: {}", reply.body);
    }
    let id = reply_id(&app.send(&sms("+12025550143")).await);
    let verified = app.verify(&id, "1357 9024").await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    let reply = app
        .send(&json!({"channel": "email", "to": "review@example.com"}))
        .await;
    assert_eq!(reply.status, 202);
    let verified = app.verify(&reply_id(&reply), "AB12CD34").await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(app.outbox().await.is_empty(), "nothing is delivered");
    assert_eq!(
        app.metrics
            .count(|e| matches!(e, MetricEvent::TestDestinationSend)),
        10
    );
    // But each send was charged to the client's quota, like any other: the 11th is refused.
    let refused = app.send(&sms("+12025550143")).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(
        refused.body["type"],
        "urn:problem-type:otp-lambda:client-send-limit"
    );
}

fn reply_id(reply: &crate::helpers::Reply) -> String {
    assert_eq!(reply.status, 202, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// A fixed code is known to more people than a random one: a stranger guessing at it meets the
/// destination's guess budget like anyone else, however many fresh ids (five attempts each) they ask
/// for; and every use is an audit line naming the destination masked.
#[tokio::test]
async fn a_test_destination_is_locked_by_its_guess_budget() {
    let settings = Settings {
        test_destinations: TestDestinations::parse("+12025550143=13579024").unwrap(),
        ..limits(1000, 1000, 1000)
    };
    let app = spawn_app_with(settings).await;
    for n in 0..10 {
        let id = reply_id(&app.send(&sms("+12025550143")).await);
        let reply = app.verify(&id, "00000000").await;
        assert_eq!(
            reply.body["status"], "incorrect",
            "guess {n}: {}",
            reply.body
        );
    }
    let id = reply_id_or_locked(&app.send(&sms("+12025550143")).await);
    assert_eq!(id, None, "a locked network gets no fresh id either");
    // Every use an audit line, the destination masked (other tests' lines are in the log too).
    let log = crate::logs::captured().text();
    let audits: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("\"test_destination_send\""))
        .collect();
    assert!(audits.len() >= 10, "{audits:?}");
    for line in audits {
        let line: Value = serde_json::from_str(line).unwrap();
        let to = line["fields"]["to"].as_str().or(line["to"].as_str());
        assert!(to.is_some_and(|to| to.contains('•')), "{line}");
    }
}

/// The id of an accepted send, or `None` for a `destination-locked` refusal.
fn reply_id_or_locked(reply: &crate::helpers::Reply) -> Option<String> {
    if reply.status == 429 {
        assert_eq!(
            reply.body["type"],
            "urn:problem-type:otp-lambda:destination-locked"
        );
        return None;
    }
    Some(reply_id(reply))
}

#[tokio::test]
async fn test_destination_codes_are_8_to_10_characters() {
    for short in ["+12025550143=135790", "a@example.com=abc1234"] {
        let error = TestDestinations::parse(short).unwrap_err().to_string();
        assert!(error.contains("8 to 10"), "{error}");
    }
    assert!(TestDestinations::parse("+12025550143=1357902468").is_ok());
}

#[tokio::test]
async fn without_configuration_there_are_no_test_destinations() {
    let app = spawn_app_with(Settings::default()).await;
    assert!(Settings::default().test_destinations.is_empty());
    let reply = app.send(&sms("+12025550143")).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(app.outbox().await.len(), 1, "a real message, a random code");
    assert_eq!(
        app.metrics
            .count(|e| matches!(e, MetricEvent::TestDestinationSend)),
        0
    );
}

#[tokio::test]
async fn an_sms_ends_with_the_web_otp_line_and_the_app_hash_when_asked() {
    // Only origins and app hashes the profile lists (tests/api/trust_boundary.rs: the others).
    let settings = Settings::default();
    let builtin = settings.profiles.default_profile().as_ref().clone();
    let profiles = otp_shared::profiles::Profiles::parse(
        r#"{"profiles": {"default": {"web_otp_origins": ["login.example.com", "example.com"],
            "android_app_hashes": ["FA+9qCX9VSu"]}}}"#,
        builtin,
    )
    .unwrap();
    let app = spawn_app_with(Settings {
        profiles,
        ..settings
    })
    .await;
    let reply = app
        .send(&json!({"channel": "sms", "to": "+447912345678", "origin": "Login.Example.com", "app_hash": "FA+9qCX9VSu"}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let code = app.last_code().await;
    let outbox = app.outbox().await;
    let text = outbox.last().unwrap()["body"].as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[lines.len() - 3..],
        ["", "FA+9qCX9VSu", &format!("@login.example.com #{code}")],
        "{text}"
    );
    // Email ignores both.
    let email = app
        .send(&json!({"channel": "email", "to": "ana@example.com", "origin": "example.com"}))
        .await;
    assert_eq!(email.status, 202);
    let email_code = app.last_code().await;
    let outbox = app.outbox().await;
    let email_text = outbox.last().unwrap()["body"].as_str().unwrap();
    assert!(
        !email_text.contains(&format!("#{email_code}")),
        "{email_text}"
    );
    for (field, value) in [
        ("origin", "https://example.com"),
        ("origin", "example.com:443"),
        ("origin", "localhost"),
        ("app_hash", "short"),
    ] {
        let reply = app
            .send(&json!({"channel": "sms", "to": "+447912345678", field: value}))
            .await;
        assert_eq!(reply.status, 400, "{field}={value}: {}", reply.body);
        assert_eq!(reply.body["field"], field);
    }
}

#[tokio::test]
async fn sends_and_verifies_are_counted_in_metrics() {
    let app = spawn_app_with(Settings::default()).await;
    let (id, code) = app.issue("+447912345678").await;
    assert_eq!(
        app.verify(&id, &crate::helpers::wrong_code(&code))
            .await
            .status,
        422
    );
    assert_eq!(app.verify(&id, &code).await.status, 200);
    let resend = app.send(&sms("+447912345678")).await;
    assert_eq!(resend.status, 429);
    let events = app.metrics.events();
    for expected in [
        MetricEvent::CodeSent {
            channel: Channel::Sms,
            country: Some("GB".to_owned()),
        },
        MetricEvent::CodeIncorrect,
        MetricEvent::CodeApproved {
            channel: Channel::Sms,
            country: Some("GB".to_owned()),
        },
        MetricEvent::SendRefused {
            reason: "resend-cooldown",
        },
    ] {
        assert!(events.contains(&expected), "{expected:?} in {events:?}");
    }
}

//! The send use case on the in-memory store: an SMS is rendered before anything is recorded, so
//! the budget is charged per segment and a text over one segment is refused with nothing stored,
//! charged or sent. No HTTP route can make such a text (profiles and server sends are checked at
//! their longest first), so it is built here directly.

use std::sync::{Arc, Mutex};

use super::*;
use crate::abuse::SmsRules;
use crate::adapters::RecordedMetrics;
use crate::adapters::{ManualClock, MemoryStore, OsRandomness};
use crate::config::Settings;
use crate::crypto::Keys;
use crate::crypto::ServiceSecret;
use crate::domain::{CodeSpec, Destination, EmailAddress, Locale, Money, SmsBinding, Ttl};
use crate::messages::{self, CustomTemplate};
use crate::metrics::MetricEvent;
use crate::ports::{Delivered, Notifier, OutgoingMessage};
use crate::usecases::{Otp, Requester};

/// Keeps what it delivers.
#[derive(Clone, Default)]
struct Outbox(Arc<Mutex<Vec<OutgoingMessage>>>);

impl Outbox {
    fn sent(&self) -> Vec<OutgoingMessage> {
        self.0.lock().unwrap().clone()
    }
}

impl Notifier for Outbox {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(Delivered::default())
    }
}

/// The service with SMS to GB at 0.04 a segment and a daily budget of `budget`.
fn otp(budget: &str) -> (Otp<MemoryStore, Outbox>, Outbox, Arc<RecordedMetrics>) {
    let settings = Settings {
        sms: SmsRules {
            prices: SmsRules::parse_prices("GB=0.04").unwrap(),
            daily_budget: Money::parse(budget).unwrap(),
            ..SmsRules::default()
        },
        ..Settings::default()
    };
    let outbox = Outbox::default();
    let metrics = Arc::new(RecordedMetrics::new());
    let secret = ServiceSecret::parse("a test secret of at least thirty-two bytes").unwrap();
    let otp = Otp::new(
        MemoryStore::new(),
        outbox.clone(),
        Arc::new(ManualClock::default()),
        Arc::new(OsRandomness),
        Keys::derive(&secret),
        settings,
    )
    .with_metrics(metrics.clone());
    (otp, outbox, metrics)
}

/// An SMS to `to` in the backend's own words, as a server send would ask (unchecked here).
fn sms(otp: &Otp<MemoryStore, Outbox>, to: &str, template: &str) -> SendRequest {
    SendRequest {
        profile: otp.settings().profiles.default_profile().clone(),
        destination: Destination::parse(Channel::Sms, to).unwrap(),
        purpose: Purpose::default(),
        spec: CodeSpec::default(),
        ttl: Ttl::default(),
        template: Some(CustomTemplate::parse(template).unwrap()),
        brand: None,
        locale: Locale::default(),
        reference: None,
        transaction: None,
        client: None,
        requester: Requester::Server("test".to_owned()),
        fallback: None,
        sms_binding: SmsBinding::default(),
        idempotency: None,
        captcha_token: None,
    }
}

/// A UCS-2 text (`ó` is not GSM-7) of two segments: 80 + 6 UTF-16 units, over the 70 of one.
fn two_segments() -> String {
    format!("{}{{code}}", "ó".repeat(80))
}

fn spend(metrics: &RecordedMetrics) -> Vec<(f64, u64)> {
    metrics
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MetricEvent::SmsSpend {
                amount, segments, ..
            } => Some((amount, segments)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_sms_over_one_segment_is_refused_before_anything_is_recorded_charged_or_sent() {
    // A budget of exactly one segment to GB.
    let (otp, outbox, metrics) = otp("0.04");
    let refused = otp
        .send(sms(&otp, "+447912345678", &two_segments()))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, SendError::SmsTooLong { segments: 2 }),
        "{refused:?}"
    );
    assert_eq!(refused.refusal_reason(), Some("sms-too-long"));
    assert!(refused.to_string().contains("2 segments"), "{refused}");
    assert!(outbox.sent().is_empty(), "nothing was sent");
    assert!(spend(&metrics).is_empty(), "nothing was spent");
    assert_eq!(
        metrics.count(|e| matches!(
            e,
            MetricEvent::SendRefused {
                reason: "sms-too-long"
            }
        )),
        1
    );

    // Nothing was recorded (no cooldown now) and nothing charged (the whole budget is left).
    let short = otp
        .send(sms(&otp, "+447912345678", "{code} é código"))
        .await;
    assert!(short.is_ok(), "{short:?}");
    assert_eq!(outbox.sent().len(), 1);
    let spent = otp
        .send(sms(&otp, "+447912345679", "{code} is your code"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            spent,
            SendError::OverQuota {
                kind: QuotaKind::SmsBudget,
                ..
            }
        ),
        "{spent:?}"
    );
}

#[tokio::test]
async fn a_too_long_sms_does_not_fall_back_to_email() {
    let (otp, outbox, _) = otp("100");
    let mut request = sms(&otp, "+447912345678", &two_segments());
    request.fallback = Some(EmailAddress::parse("ana@example.com").unwrap());
    let refused = otp.send(request).await.unwrap_err();
    assert!(
        matches!(refused, SendError::SmsTooLong { .. }),
        "{refused:?}"
    );
    assert!(outbox.sent().is_empty());
}

#[tokio::test]
async fn the_spend_metric_is_the_price_of_every_segment_of_the_text_sent() {
    let (otp, outbox, metrics) = otp("100");
    // GSM-7 and UCS-2 texts of one segment each: one price each.
    for (to, template) in [
        ("+447912345678", "{code} is your code"),
        ("+447912345679", "{code} é o seu código 🙂"),
    ] {
        otp.send(sms(&otp, to, template)).await.unwrap();
    }
    assert_eq!(spend(&metrics), [(0.04, 1), (0.04, 1)]);
    let texts: Vec<_> = outbox.sent().into_iter().map(|m| m.text).collect();
    assert_eq!(
        messages::sms_size(&texts[1]).encoding,
        messages::SmsEncoding::Ucs2
    );
}

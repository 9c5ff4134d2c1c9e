//! SMS spend per segment, on both stores: the budget is charged the price of each segment of the
//! text actually sent, whatever its encoding. A text over one segment never gets as far as the
//! store: the server send refuses it (400), and the use case would too (`sms-too-long`, tested in
//! shared/src/usecases/send_tests.rs, since no route can make one).

use otp_shared::Settings;
use otp_shared::abuse::SmsRules;
use otp_shared::domain::Money;
use otp_shared::messages::{SmsEncoding, sms_size};
use otp_shared::metrics::MetricEvent;
use serde_json::json;

use crate::helpers::spawn_app_with;

/// SMS to GB at 0.04 a segment, and a budget of two segments a day.
fn two_segments_a_day() -> Settings {
    Settings {
        sms: SmsRules {
            prices: SmsRules::parse_prices("GB=0.04").unwrap(),
            daily_budget: Money::parse("0.08").unwrap(),
            ..SmsRules::default()
        },
        ..Settings::default()
    }
}

#[tokio::test]
async fn a_ucs2_sms_is_charged_its_segments_and_a_longer_one_is_refused_uncharged() {
    let app = spawn_app_with(two_segments_a_day()).await;
    // `ó` and the emoji are not GSM-7: the text goes as UCS-2, 70 units to a segment.
    let ucs2 = "{code} é o seu código 🙂";
    let sent = app
        .server_send(&json!({"channel": "sms", "to": "+447912345678", "template": ucs2}))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let outbox = app.outbox().await;
    let text = outbox.last().unwrap()["body"].as_str().unwrap();
    let size = sms_size(text);
    assert_eq!(size.encoding, SmsEncoding::Ucs2, "{text}");
    assert_eq!(size.segments, 1);

    // 71 UTF-16 units and more are two segments: refused before anything is recorded or charged.
    let long = format!("{} {{code}}", "ó".repeat(70));
    let refused = app
        .server_send(&json!({"channel": "sms", "to": "+447912345679", "template": long}))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["field"], "template");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("2 segments"),
        "{}",
        refused.body
    );
    // Not even the refused destination's cooldown started.
    let same = app
        .server_send(&json!({"channel": "sms", "to": "+447912345679", "template": ucs2}))
        .await;
    assert_eq!(same.status, 202, "{}", same.body);

    let spend: Vec<(f64, u64)> = app
        .metrics
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MetricEvent::SmsSpend {
                amount, segments, ..
            } => Some((amount, segments)),
            _ => None,
        })
        .collect();
    assert_eq!(spend, [(0.04, 1), (0.04, 1)], "one price per segment");
    // Two segments' worth spent: the budget is gone.
    let over = app
        .server_send(&json!({"channel": "sms", "to": "+447912345670", "template": "{code}"}))
        .await;
    assert_eq!(over.status, 503, "{}", over.body);
    assert_eq!(
        over.body["type"],
        "urn:problem-type:otp-lambda:sms-budget-exhausted"
    );
    assert_eq!(app.outbox().await.len(), 2);
}

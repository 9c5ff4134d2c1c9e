//! The events function's handler fed SNS events as Lambda delivers them (tests/fixtures/sns/), each
//! notification's message an End User Messaging SMS and Voice v2 or an SES event shaped as the AWS
//! docs show them (the SMS and SES examples of configuration-sets-event-format.html and
//! event-publishing-retrieving-sns-examples.html; voice events carry the same common fields), with
//! the EMF records it writes read back as CloudWatch would read them.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use lambda_http::{Context, LambdaEvent};
use otp_shared::adapters::{EmfMetrics, ManualClock};
use otp_shared::delivery_handler::{SnsEvent, Summary, handle};
use serde_json::Value;

/// Where the EMF lines go: read back as JSON.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn records(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// One EMF record as a dashboard sees it: the metric, its value and each dimension set with the
/// values of its dimensions, e.g. `MessagesDelivered=1 [Channel=sms] [Channel=sms,Country=GB]`.
fn described(record: &Value) -> String {
    let directive = &record["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "OtpLambda/test");
    let metrics: Vec<String> = directive["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["Name"].as_str().unwrap();
            format!("{name}={}", record[name])
        })
        .collect();
    let sets: Vec<String> = directive["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| {
            let pairs: Vec<String> = set
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let d = d.as_str().unwrap();
                    format!("{d}={}", record[d].as_str().unwrap())
                })
                .collect();
            format!("[{}]", pairs.join(","))
        })
        .collect();
    format!("{} {}", metrics.join(" "), sets.join(" "))
}

/// A fixture, and every phone number and address its messages carry (registered for the
/// whole-suite log audit).
fn fixture(name: &str) -> (SnsEvent, Vec<String>) {
    let path = format!("{}/fixtures/sns/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let mut personal = Vec::new();
    for record in json["Records"].as_array().unwrap() {
        let message = record["Sns"]["Message"].as_str().unwrap();
        // The recipients: SMS and voice events name the number, SES events the addresses (in
        // `mail.destination`, and again in headers and bounce or complaint details).
        let Ok(message) = serde_json::from_str::<Value>(message) else {
            continue;
        };
        if let Some(number) = message["destinationPhoneNumber"].as_str() {
            personal.push(number.to_owned());
        }
        for address in message["mail"]["destination"]
            .as_array()
            .into_iter()
            .flatten()
        {
            personal.push(address.as_str().unwrap().to_owned());
        }
    }
    personal.sort();
    personal.dedup();
    for value in &personal {
        crate::logs::sensitive(value);
        if let Some(number) = value.strip_prefix('+') {
            // The digits after the country code, as a log might show them.
            crate::logs::sensitive(&number[2..]);
        }
    }
    // As the runtime parses it.
    (serde_json::from_str(&text).unwrap(), personal)
}

/// What the function's `main` runs for one invocation: the handler with an EMF writer, here on a
/// buffer.
async fn invoke(name: &str) -> (Summary, Vec<String>, Vec<String>) {
    crate::logs::captured();
    let (event, personal) = fixture(name);
    let lines = Lines::default();
    let metrics = EmfMetrics::new(
        "OtpLambda/test",
        Arc::new(ManualClock::default()),
        lines.clone(),
    );
    let summary = handle(&metrics, LambdaEvent::new(event, Context::default()))
        .await
        .expect("the handler never fails an invocation");
    assert_eq!(metrics.unwritten(), 0);
    let records = lines.records().iter().map(described).collect();
    (summary, records, personal)
}

#[tokio::test]
async fn sms_events_are_counted_per_channel_and_country() {
    let (summary, records, _) = invoke("eum-sms.json").await;
    // TEXT_DELIVERED after TEXT_SUCCESSFUL for the same message, and TEXT_PENDING, count nothing.
    assert_eq!(
        summary,
        Summary {
            counted: 4,
            ignored: 2,
            skipped: 0
        }
    );
    assert_eq!(
        records,
        [
            "MessagesDelivered=1 [Channel=sms] [Channel=sms,Country=GB]",
            "DeliveryRate=100 [Channel=sms] [Channel=sms,Country=GB]",
            "MessagesFailed=1 [Channel=sms] [Channel=sms,Country=BR] [Channel=sms,Reason=blocked]",
            "DeliveryRate=0 [Channel=sms] [Channel=sms,Country=BR]",
            "MessagesDelivered=1 [Channel=sms] [Channel=sms,Country=BR]",
            "DeliveryRate=100 [Channel=sms] [Channel=sms,Country=BR]",
            // "gb" in the event: the country is upper-cased.
            "MessagesFailed=1 [Channel=sms] [Channel=sms,Country=GB] [Channel=sms,Reason=ttl-expired]",
            "DeliveryRate=0 [Channel=sms] [Channel=sms,Country=GB]",
        ]
    );
}

#[tokio::test]
async fn a_call_counts_once_when_it_ends() {
    let (summary, records, _) = invoke("eum-voice.json").await;
    // Initiated, ringing and answered are steps of the call that completes.
    assert_eq!(
        summary,
        Summary {
            counted: 3,
            ignored: 3,
            skipped: 0
        }
    );
    assert_eq!(
        records,
        [
            "MessagesDelivered=1 [Channel=voice] [Channel=voice,Country=DE]",
            "DeliveryRate=100 [Channel=voice] [Channel=voice,Country=DE]",
            "MessagesFailed=1 [Channel=voice] [Channel=voice,Country=US] [Channel=voice,Reason=no-answer]",
            "DeliveryRate=0 [Channel=voice] [Channel=voice,Country=US]",
            "MessagesFailed=1 [Channel=voice] [Channel=voice,Country=US] [Channel=voice,Reason=busy]",
            "DeliveryRate=0 [Channel=voice] [Channel=voice,Country=US]",
        ]
    );
}

#[tokio::test]
async fn email_deliveries_bounces_complaints_and_rejects() {
    let (summary, records, _) = invoke("ses.json").await;
    assert_eq!(
        summary,
        Summary {
            counted: 5,
            ignored: 1,
            skipped: 0
        }
    );
    assert_eq!(
        records,
        [
            "MessagesDelivered=1 [Channel=email]",
            "DeliveryRate=100 [Channel=email]",
            "EmailsBounced=1 [BounceType=permanent]",
            "DeliveryRate=0 [Channel=email]",
            "EmailsBounced=1 [BounceType=transient]",
            "DeliveryRate=0 [Channel=email]",
            "EmailsComplained=1 []",
            "MessagesFailed=1 [Channel=email] [Channel=email,Reason=rejected]",
            "DeliveryRate=0 [Channel=email]",
        ]
    );
}

#[tokio::test]
async fn a_malformed_record_is_skipped_and_the_rest_are_counted() {
    let (summary, records, _) = invoke("malformed.json").await;
    assert_eq!(
        summary,
        Summary {
            counted: 2,
            ignored: 0,
            skipped: 1
        }
    );
    let counted: BTreeMap<&str, usize> = records.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.split('=').next().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(
        counted,
        BTreeMap::from([("DeliveryRate", 2), ("MessagesDelivered", 2)])
    );
}

/// Each event is logged with its type, channel, country, outcome and message id; no number or
/// address it carried is.
#[tokio::test(flavor = "current_thread")]
async fn the_log_names_the_outcome_never_the_number_or_the_address() {
    let captured = crate::logs::captured();
    let mut personal = Vec::new();
    for name in [
        "eum-sms.json",
        "eum-voice.json",
        "ses.json",
        "malformed.json",
    ] {
        personal.extend(invoke(name).await.2);
    }
    assert!(personal.len() >= 15, "{personal:?}");
    let logs = captured.text();
    let ours: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("delivery event"))
        .collect();
    let blocked = ours
        .iter()
        .find(|line| line.contains("TEXT_BLOCKED"))
        .expect("the blocked SMS is logged");
    let blocked: Value = serde_json::from_str(blocked).unwrap();
    assert_eq!(blocked["channel"], "sms");
    assert_eq!(blocked["country"], "BR");
    assert_eq!(blocked["outcome"], "failed");
    assert_eq!(blocked["reason"], "blocked");
    assert_eq!(
        blocked["message_id"],
        "862a8790-60c0-4430-9b2b-658bd0000003"
    );
    assert!(
        ours.iter()
            .any(|line| line.contains("delivery event skipped") && line.contains("record")),
        "the malformed record is logged"
    );
    for value in &personal {
        for needle in [value.as_str(), value.trim_start_matches('+')] {
            assert!(!logs.contains(needle), "the logs contain {needle:?}");
        }
    }
}

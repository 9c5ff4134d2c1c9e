//! The metrics adapter of the Lambdas: each event as one CloudWatch Embedded Metric Format line on
//! stdout, which CloudWatch Logs turns into metrics with no API call, latency or IAM permission.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::metrics::{MetricEvent, Metrics, Shape};
use crate::ports::Clock;

/// One EMF document: the `_aws` metadata first, then the dimension values, then the metric values,
/// all as members of the root (EMF references them by name and forbids nesting).
struct Record<'a> {
    timestamp_ms: i64,
    namespace: &'a str,
    shape: &'a Shape<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: i64,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: &'static [&'static [&'static str]],
    metrics: Vec<Definition>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    name: &'static str,
    unit: &'static str,
}

impl Serialize for Record<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let shape = self.shape;
        let metadata = Metadata {
            timestamp: self.timestamp_ms,
            cloud_watch_metrics: [Directive {
                namespace: self.namespace,
                dimensions: shape.dimension_sets,
                metrics: shape
                    .metrics
                    .iter()
                    .map(|m| Definition {
                        name: m.name,
                        unit: m.unit,
                    })
                    .collect(),
            }],
        };
        let members = 1 + shape.dimensions.len() + shape.metrics.len();
        let mut map = serializer.serialize_map(Some(members))?;
        map.serialize_entry("_aws", &metadata)?;
        for (key, value) in &shape.dimensions {
            map.serialize_entry(key, value)?;
        }
        for metric in &shape.metrics {
            map.serialize_entry(metric.name, &metric.value)?;
        }
        map.end()
    }
}

/// The adapter: writes each event as one EMF line. On Lambda, stdout goes to CloudWatch Logs, which
/// extracts the metrics.
pub struct EmfMetrics {
    namespace: String,
    clock: Arc<dyn Clock>,
    /// Held for one whole line, so concurrent records never interleave.
    writer: Mutex<Box<dyn Write + Send>>,
    unwritten: AtomicU64,
}

impl EmfMetrics {
    /// `namespace` is the CloudWatch namespace, 1 to 1024 characters (e.g. "OtpLambda").
    pub fn new(
        namespace: impl Into<String>,
        clock: Arc<dyn Clock>,
        writer: impl Write + Send + 'static,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            clock,
            writer: Mutex::new(Box::new(writer)),
            unwritten: AtomicU64::new(0),
        }
    }

    pub fn stdout(namespace: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self::new(namespace, clock, std::io::stdout())
    }

    /// How many records were lost (write errors, or values JSON cannot carry) since start.
    pub fn unwritten(&self) -> u64 {
        self.unwritten.load(Ordering::Relaxed)
    }

    fn lose(&self, why: &str) {
        self.unwritten.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(why, "metric record not written");
    }

    /// The time in milliseconds since the Unix epoch, as EMF's `Timestamp` wants it.
    fn timestamp_ms(&self) -> i64 {
        let now = self.clock.now();
        now.unix_timestamp() * 1000 + i64::from(now.millisecond())
    }
}

impl std::fmt::Debug for EmfMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfMetrics")
            .field("namespace", &self.namespace)
            .field("unwritten", &self.unwritten())
            .finish_non_exhaustive()
    }
}

impl Metrics for EmfMetrics {
    fn record(&self, event: &MetricEvent) {
        let Some(shape) = event.shape() else {
            return self.lose("a value is not a finite number");
        };
        let record = Record {
            timestamp_ms: self.timestamp_ms(),
            namespace: &self.namespace,
            shape: &shape,
        };
        let mut line = match serde_json::to_vec(&record) {
            Ok(line) => line,
            Err(_) => return self.lose("serialising failed"),
        };
        line.push(b'\n');
        // A panic elsewhere while holding the lock leaves the writer usable: keep writing.
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let written = writer.write_all(&line).and_then(|()| writer.flush());
        drop(writer);
        if written.is_err() {
            self.lose("the write failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::io;
    use std::time::Duration;

    use serde_json::{Value, json};
    use time::macros::datetime;

    use super::*;
    use crate::adapters::{ManualClock, RecordedMetrics};
    use crate::domain::{Channel, Region};
    use crate::metrics::{METRIC_NAMES, NoMetrics};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<Value> {
            let bytes = self.0.lock().unwrap().clone();
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.is_empty() || text.ends_with('\n'), "{text}");
            text.lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect()
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("closed"))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const START: time::OffsetDateTime = datetime!(2025-03-01 12:00:00.250 UTC);
    const START_MS: i64 = 1_740_830_400_250;

    fn emf() -> (EmfMetrics, Arc<ManualClock>, Buffer) {
        let clock = Arc::new(ManualClock::new(START));
        let buffer = Buffer::default();
        let metrics = EmfMetrics::new("OtpLambda", clock.clone(), buffer.clone());
        (metrics, clock, buffer)
    }

    fn one_record(event: MetricEvent) -> Value {
        let (metrics, _, buffer) = emf();
        metrics.record(&event);
        let mut lines = buffer.lines();
        assert_eq!(lines.len(), 1, "{event:?}");
        lines.remove(0)
    }

    fn every_event() -> Vec<MetricEvent> {
        use MetricEvent as E;
        vec![
            E::CodeSent {
                channel: Channel::Sms,
                country: Some("GB".into()),
            },
            E::DeliveryFailed {
                channel: Channel::Email,
            },
            E::CodeApproved {
                channel: Channel::Voice,
                country: Some("GB".to_owned()),
            },
            E::CodeIncorrect,
            E::CodeExpired,
            E::CodeLocked,
            E::GuessLock { everyone: false },
            E::GuessLock { everyone: true },
            E::SendRefused { reason: "cooldown" },
            E::FallbackUsed { reason: "sms_down" },
            E::SmsSpend {
                amount: 12.5,
                budget: 100.0,
                segments: 1,
            },
            E::TestDestinationSend,
            E::BotCheckFailedOpen,
            E::TotpApproved,
            E::TotpIncorrect,
            E::TotpReplayRefused,
            E::TotpLocked,
            E::FeedbackFailed {
                channel: Channel::Voice,
            },
            E::MessageDelivered {
                channel: Channel::Voice,
                country: Some(Region::parse("GB").unwrap()),
            },
            E::MessageFailed {
                channel: Channel::Sms,
                country: None,
                reason: "blocked",
            },
            E::EmailBounced { permanent: true },
            E::EmailComplained,
            E::DeliveryOutcome {
                channel: Channel::Email,
                country: None,
                delivered: false,
            },
        ]
    }

    #[test]
    fn a_delivery_is_counted_by_channel_and_by_channel_and_country() {
        let record = one_record(MetricEvent::MessageDelivered {
            channel: Channel::Voice,
            country: Some(Region::parse("PT").unwrap()),
        });
        assert_eq!(
            record,
            json!({
                "_aws": {
                    "Timestamp": START_MS,
                    "CloudWatchMetrics": [{
                        "Namespace": "OtpLambda",
                        "Dimensions": [["Channel"], ["Channel", "Country"]],
                        "Metrics": [{"Name": "MessagesDelivered", "Unit": "Count"}]
                    }]
                },
                "Channel": "voice",
                "Country": "PT",
                "MessagesDelivered": 1
            })
        );
        let record = one_record(MetricEvent::MessageDelivered {
            channel: Channel::Email,
            country: None,
        });
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Channel"]])
        );
        assert_eq!(record["Channel"], "email");
        assert!(record.get("Country").is_none());
    }

    #[test]
    fn a_failure_is_also_counted_by_channel_and_reason() {
        let record = one_record(MetricEvent::MessageFailed {
            channel: Channel::Sms,
            country: Some(Region::parse("BR").unwrap()),
            reason: "spam",
        });
        assert_eq!(
            record,
            json!({
                "_aws": {
                    "Timestamp": START_MS,
                    "CloudWatchMetrics": [{
                        "Namespace": "OtpLambda",
                        "Dimensions": [["Channel"], ["Channel", "Country"], ["Channel", "Reason"]],
                        "Metrics": [{"Name": "MessagesFailed", "Unit": "Count"}]
                    }]
                },
                "Channel": "sms",
                "Country": "BR",
                "Reason": "spam",
                "MessagesFailed": 1
            })
        );
        let record = one_record(MetricEvent::MessageFailed {
            channel: Channel::Email,
            country: None,
            reason: "rejected",
        });
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Channel"], ["Channel", "Reason"]])
        );
        assert!(record.get("Country").is_none());
    }

    #[test]
    fn bounces_by_type_complaints_and_the_delivery_rate() {
        let record = one_record(MetricEvent::EmailBounced { permanent: false });
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["BounceType"]])
        );
        assert_eq!(record["BounceType"], "transient");
        assert_eq!(record["EmailsBounced"], 1);
        assert_eq!(
            one_record(MetricEvent::EmailBounced { permanent: true })["BounceType"],
            "permanent"
        );
        assert_eq!(
            one_record(MetricEvent::EmailComplained)["EmailsComplained"],
            1
        );
        for (delivered, value) in [(true, 100), (false, 0)] {
            let record = one_record(MetricEvent::DeliveryOutcome {
                channel: Channel::Sms,
                country: Some(Region::parse("IN").unwrap()),
                delivered,
            });
            assert_eq!(
                record["_aws"]["CloudWatchMetrics"][0]["Metrics"],
                json!([{"Name": "DeliveryRate", "Unit": "Percent"}])
            );
            assert_eq!(record["DeliveryRate"], value);
            assert_eq!(record["Country"], "IN");
        }
    }

    #[test]
    fn a_code_sent_with_a_country_is_counted_by_channel_and_by_channel_and_country() {
        let record = one_record(MetricEvent::CodeSent {
            channel: Channel::Sms,
            country: Some("GB".into()),
        });
        assert_eq!(
            record,
            json!({
                "_aws": {
                    "Timestamp": START_MS,
                    "CloudWatchMetrics": [{
                        "Namespace": "OtpLambda",
                        "Dimensions": [["Channel"], ["Channel", "Country"]],
                        "Metrics": [{"Name": "CodesSent", "Unit": "Count"}]
                    }]
                },
                "Channel": "sms",
                "Country": "GB",
                "CodesSent": 1
            })
        );
    }

    #[test]
    fn a_code_sent_without_a_usable_country_is_counted_by_channel_only() {
        for country in [None, Some("+44"), Some("gb"), Some("GBR"), Some("")] {
            let record = one_record(MetricEvent::CodeSent {
                channel: Channel::Email,
                country: country.map(str::to_owned),
            });
            assert_eq!(
                record["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                json!([["Channel"]]),
                "{country:?}"
            );
            assert_eq!(record["Channel"], "email");
            assert!(record.get("Country").is_none(), "{country:?}");
        }
    }

    #[test]
    fn counts_without_dimensions_have_one_empty_dimension_set() {
        let record = one_record(MetricEvent::TotpReplayRefused);
        assert_eq!(
            record,
            json!({
                "_aws": {
                    "Timestamp": START_MS,
                    "CloudWatchMetrics": [{
                        "Namespace": "OtpLambda",
                        "Dimensions": [[]],
                        "Metrics": [{"Name": "TotpReplaysRefused", "Unit": "Count"}]
                    }]
                },
                "TotpReplaysRefused": 1
            })
        );
    }

    #[test]
    fn refusals_and_fallbacks_are_counted_by_reason() {
        let record = one_record(MetricEvent::SendRefused { reason: "cooldown" });
        assert_eq!(
            record["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Reason"]])
        );
        assert_eq!(record["Reason"], "cooldown");
        assert_eq!(record["SendsRefused"], 1);
        let record = one_record(MetricEvent::FallbackUsed { reason: "sms_down" });
        assert_eq!(record["Reason"], "sms_down");
        assert_eq!(record["FallbacksUsed"], 1);
    }

    #[test]
    fn sms_spend_carries_spend_budget_and_segments_in_one_record() {
        let record = one_record(MetricEvent::SmsSpend {
            amount: 12.5,
            budget: 100.0,
            segments: 2,
        });
        assert_eq!(
            record,
            json!({
                "_aws": {
                    "Timestamp": START_MS,
                    "CloudWatchMetrics": [{
                        "Namespace": "OtpLambda",
                        "Dimensions": [[]],
                        "Metrics": [
                            {"Name": "SmsSpend", "Unit": "None"},
                            {"Name": "SmsBudget", "Unit": "None"},
                            {"Name": "SmsSegments", "Unit": "Count"}
                        ]
                    }]
                },
                "SmsSpend": 12.5,
                "SmsBudget": 100.0,
                "SmsSegments": 2
            })
        );
    }

    #[test]
    fn a_spend_that_is_not_a_number_is_counted_as_unwritten_not_written_as_null() {
        let (metrics, _, buffer) = emf();
        metrics.record(&MetricEvent::SmsSpend {
            amount: f64::NAN,
            budget: 100.0,
            segments: 1,
        });
        metrics.record(&MetricEvent::SmsSpend {
            amount: 1.0,
            budget: f64::INFINITY,
            segments: 1,
        });
        assert!(buffer.lines().is_empty());
        assert_eq!(metrics.unwritten(), 2);
    }

    #[test]
    fn each_record_is_one_line_in_emf_order_with_every_referenced_member_at_the_root() {
        let (metrics, _, buffer) = emf();
        let events = every_event();
        for event in &events {
            metrics.record(event);
        }
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches('\n').count(), events.len());
        for line in text.lines() {
            assert!(line.starts_with(r#"{"_aws":{"Timestamp":"#), "{line}");
        }
        for record in buffer.lines() {
            let directive = &record["_aws"]["CloudWatchMetrics"][0];
            for set in directive["Dimensions"].as_array().unwrap() {
                for key in set.as_array().unwrap() {
                    let key = key.as_str().unwrap();
                    assert!(record[key].is_string(), "{key} in {record}");
                }
            }
            for definition in directive["Metrics"].as_array().unwrap() {
                let name = definition["Name"].as_str().unwrap();
                assert!(record[name].is_number(), "{name} in {record}");
            }
        }
    }

    #[test]
    fn metric_names_lists_exactly_the_names_the_events_record() {
        let recorded: BTreeSet<&str> = every_event()
            .iter()
            .flat_map(|event| event.shape().unwrap().metrics)
            .map(|metric| metric.name)
            .collect();
        let listed: BTreeSet<&str> = METRIC_NAMES.iter().copied().collect();
        assert_eq!(recorded, listed);
        assert_eq!(
            listed.len(),
            METRIC_NAMES.len(),
            "METRIC_NAMES repeats a name"
        );
    }

    #[test]
    fn timestamps_come_from_the_clock_in_milliseconds() {
        let (metrics, clock, buffer) = emf();
        metrics.record(&MetricEvent::CodeIncorrect);
        clock.advance(Duration::from_millis(1_500));
        metrics.record(&MetricEvent::CodeIncorrect);
        let stamps: Vec<_> = buffer
            .lines()
            .iter()
            .map(|record| record["_aws"]["Timestamp"].as_i64().unwrap())
            .collect();
        assert_eq!(stamps, [START_MS, START_MS + 1_500]);
    }

    #[test]
    fn write_errors_are_counted_not_raised() {
        let clock = Arc::new(ManualClock::new(START));
        let metrics = EmfMetrics::new("OtpLambda", clock, Broken);
        metrics.record(&MetricEvent::CodeLocked);
        metrics.record(&MetricEvent::CodeLocked);
        assert_eq!(metrics.unwritten(), 2);
    }

    #[test]
    fn concurrent_records_never_interleave() {
        let (metrics, _, buffer) = emf();
        let metrics = Arc::new(metrics);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let metrics = metrics.clone();
                std::thread::spawn(move || {
                    for event in every_event() {
                        metrics.record(&event);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(buffer.lines().len(), 8 * every_event().len());
    }

    #[test]
    fn the_test_double_keeps_events_in_order_and_counts_them() {
        let recorded = RecordedMetrics::new();
        recorded.record(&MetricEvent::CodeIncorrect);
        recorded.record(&MetricEvent::CodeApproved {
            channel: Channel::Sms,
            country: None,
        });
        recorded.record(&MetricEvent::CodeIncorrect);
        NoMetrics.record(&MetricEvent::CodeIncorrect);
        assert_eq!(
            recorded.events(),
            [
                MetricEvent::CodeIncorrect,
                MetricEvent::CodeApproved {
                    channel: Channel::Sms,
                    country: None,
                },
                MetricEvent::CodeIncorrect,
            ]
        );
        assert_eq!(
            recorded.count(|e| matches!(e, MetricEvent::CodeIncorrect)),
            2
        );
    }
}

//! The events function: End User Messaging SMS and Voice and SES publish delivery events to an SNS
//! topic, SNS invokes the function with a batch of notifications, and each becomes metrics
//! (`MessagesDelivered`, `MessagesFailed`, `EmailsBounced`, `EmailsComplained`, `DeliveryRate`) and
//! one log line. The function calls no AWS API.
//!
//! A notification that is not a delivery event is logged and skipped, and the invocation still
//! succeeds: an error would make Lambda retry the whole batch (twice, for SNS's asynchronous
//! invocation), counting its good events again and failing on the bad one again.

use std::sync::Arc;

use lambda_http::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::adapters::{EmfMetrics, SystemClock};
use crate::config::{ConfigError, env_var, metrics_namespace};
use crate::delivery_events::{self, DeliveryEvent, Outcome};
use crate::domain::Channel;
use crate::metrics::{MetricEvent, Metrics};

/// An SNS event as Lambda delivers it. Its records are read one by one, so one that is not shaped
/// like a notification is skipped alone.
#[derive(Debug, Default, Deserialize)]
pub struct SnsEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<Value>,
}

/// The part of an SNS record that is read.
#[derive(Deserialize)]
struct SnsRecord {
    #[serde(rename = "Sns")]
    sns: SnsNotification,
}

#[derive(Deserialize)]
struct SnsNotification {
    #[serde(rename = "Type", default)]
    kind: Option<String>,
    #[serde(rename = "Message")]
    message: String,
}

/// What one invocation did with its records, as the function answers (SNS ignores the answer;
/// `cargo lambda invoke` and the tests read it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Delivered, failed, bounced or complained: recorded as metrics.
    pub counted: usize,
    /// Steps on the way and receipts that follow a counted event: logged only.
    pub ignored: usize,
    /// Not a delivery event this service understands: logged as such, nothing recorded.
    pub skipped: usize,
}

/// The events function's metrics: EMF lines on stdout under `OTP_METRICS_NAMESPACE`.
pub fn metrics_from_env() -> Result<EmfMetrics, ConfigError> {
    Ok(EmfMetrics::stdout(
        metrics_namespace(env_var)?,
        Arc::new(SystemClock),
    ))
}

/// The function's handler: [`record_events`] for the invocation's event.
pub async fn handle(
    metrics: &dyn Metrics,
    event: LambdaEvent<SnsEvent>,
) -> Result<Summary, lambda_http::Error> {
    Ok(record_events(metrics, event.payload))
}

/// Each record's delivery event as metrics and one log line; a record that is not one is logged
/// and skipped.
pub fn record_events(metrics: &dyn Metrics, event: SnsEvent) -> Summary {
    let mut summary = Summary::default();
    for (index, record) in event.records.into_iter().enumerate() {
        let parsed = serde_json::from_value::<SnsRecord>(record)
            .map_err(|_| "not an SNS record with a message")
            .and_then(|record| match record.sns.kind.as_deref() {
                None | Some("Notification") => Ok(record.sns.message),
                Some(_) => Err("an SNS message that is not a notification"),
            })
            .map(|message| delivery_events::parse(&message));
        let event = match parsed {
            Ok(Ok(event)) => event,
            Ok(Err(error)) => {
                tracing::warn!(record = index, error = %error, "delivery event skipped");
                summary.skipped += 1;
                continue;
            }
            Err(error) => {
                tracing::warn!(record = index, error, "delivery event skipped");
                summary.skipped += 1;
                continue;
            }
        };
        log(&event);
        let recorded = metric_events(&event);
        if recorded.is_empty() {
            summary.ignored += 1;
        } else {
            summary.counted += 1;
        }
        for metric in &recorded {
            metrics.record(metric);
        }
    }
    summary
}

/// The metrics one event becomes: a count of its outcome and, for a delivery or a failure, its
/// `DeliveryRate` sample.
pub fn metric_events(event: &DeliveryEvent) -> Vec<MetricEvent> {
    let (channel, country) = (event.channel, event.country);
    let rate = |delivered| MetricEvent::DeliveryOutcome {
        channel,
        country,
        delivered,
    };
    match event.outcome {
        Outcome::Delivered => vec![
            MetricEvent::MessageDelivered { channel, country },
            rate(true),
        ],
        Outcome::Failed { reason } => vec![
            MetricEvent::MessageFailed {
                channel,
                country,
                reason,
            },
            rate(false),
        ],
        Outcome::Bounced { permanent } => vec![
            MetricEvent::EmailBounced { permanent },
            MetricEvent::DeliveryOutcome {
                channel: Channel::Email,
                country: None,
                delivered: false,
            },
        ],
        Outcome::Complained => vec![MetricEvent::EmailComplained],
        Outcome::Ignored => Vec::new(),
    }
}

/// One line per event: its type, channel, country, outcome (and reason), and the provider's
/// message id, which the send function logged beside the masked destination when it sent the
/// message: the id joins the two lines and says nothing about the recipient by itself.
fn log(event: &DeliveryEvent) {
    let reason = match event.outcome {
        Outcome::Failed { reason } => Some(reason),
        _ => None,
    };
    tracing::info!(
        event_type = event.event_type,
        channel = event.channel.as_str(),
        country = event.country.as_ref().map(|c| c.as_str()),
        outcome = event.outcome.as_str(),
        reason,
        message_id = event.message_id.as_ref().map(|id| id.as_str()),
        "delivery event"
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::adapters::RecordedMetrics;
    use crate::domain::Region;

    fn notification(message: &str) -> Value {
        json!({
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:events:1",
            "Sns": {
                "Type": "Notification",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:events",
                "Message": message,
                "Timestamp": "2025-03-01T12:00:00.000Z"
            }
        })
    }

    fn eum(event_type: &str, country: &str) -> String {
        json!({
            "eventType": event_type,
            "isoCountryCode": country,
            "destinationPhoneNumber": "+447911123456",
            "messageId": "862a8790-60c0-4430-9b2b-658bdexample",
        })
        .to_string()
    }

    #[test]
    fn each_outcome_becomes_its_count_and_rate_sample() {
        let metrics = RecordedMetrics::new();
        let event = SnsEvent {
            records: vec![
                notification(&eum("TEXT_SUCCESSFUL", "GB")),
                notification(&eum("VOICE_BUSY", "FR")),
                notification(&eum("TEXT_PENDING", "GB")),
                notification(r#"{"eventType": "Complaint", "mail": {}}"#),
            ],
        };
        let summary = record_events(&metrics, event);
        assert_eq!(
            summary,
            Summary {
                counted: 3,
                ignored: 1,
                skipped: 0
            }
        );
        let gb = Some(Region::parse("GB").unwrap());
        let fr = Some(Region::parse("FR").unwrap());
        assert_eq!(
            metrics.events(),
            [
                MetricEvent::MessageDelivered {
                    channel: Channel::Sms,
                    country: gb
                },
                MetricEvent::DeliveryOutcome {
                    channel: Channel::Sms,
                    country: gb,
                    delivered: true
                },
                MetricEvent::MessageFailed {
                    channel: Channel::Voice,
                    country: fr,
                    reason: "busy"
                },
                MetricEvent::DeliveryOutcome {
                    channel: Channel::Voice,
                    country: fr,
                    delivered: false
                },
                MetricEvent::EmailComplained,
            ]
        );
    }

    #[test]
    fn records_that_are_not_delivery_events_are_skipped_alone() {
        let metrics = RecordedMetrics::new();
        let mut subscription = notification("{}");
        subscription["Sns"]["Type"] = json!("SubscriptionConfirmation");
        let event = SnsEvent {
            records: vec![
                json!("not a record"),
                json!({"Sns": {"Message": 42}}),
                subscription,
                notification("{not json"),
                notification(&eum("TEXT_TELEPATHY", "GB")),
                notification(&eum("VOICE_COMPLETED", "US")),
            ],
        };
        let summary = record_events(&metrics, event);
        assert_eq!(
            summary,
            Summary {
                counted: 1,
                ignored: 0,
                skipped: 5
            }
        );
        assert_eq!(metrics.events().len(), 2);
    }

    #[test]
    fn a_bounce_is_a_failed_delivery_of_an_email() {
        let event = DeliveryEvent {
            event_type: "Bounce",
            channel: Channel::Email,
            country: None,
            outcome: Outcome::Bounced { permanent: true },
            message_id: None,
        };
        assert_eq!(
            metric_events(&event),
            [
                MetricEvent::EmailBounced { permanent: true },
                MetricEvent::DeliveryOutcome {
                    channel: Channel::Email,
                    country: None,
                    delivered: false
                }
            ]
        );
    }

    #[test]
    fn an_event_without_records_is_fine() {
        let event: SnsEvent = serde_json::from_str("{}").unwrap();
        assert_eq!(
            record_events(&RecordedMetrics::new(), event),
            Summary::default()
        );
    }
}

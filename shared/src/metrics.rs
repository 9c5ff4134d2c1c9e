//! Business metrics as CloudWatch Embedded Metric Format (EMF) records: one JSON object per line on
//! stdout, which CloudWatch Logs turns into metrics with no API call, latency or IAM permission.
//!
//! The use cases say what happened ([`MetricEvent`]) through the [`Metrics`] port, and each event's
//! [`Shape`] says what it becomes in CloudWatch; `adapters::EmfMetrics` writes it, [`NoMetrics`]
//! drops it and `adapters::RecordedMetrics` keeps it for tests. A record carries
//! only the metric, its value and low-cardinality dimensions (channel, country, a fixed reason, a
//! bounce type): never a code, an address or a secret. The events function reports what providers
//! said became of sent messages (`MessagesDelivered` and the variants after it).

use serde_json::Number;

use crate::domain::{Channel, Region};

/// Every metric name a record can carry. The template's alarms and dashboard name only these, and
/// its check mirrors this list.
pub const METRIC_NAMES: &[&str] = &[
    "CodesSent",
    "DeliveryFailures",
    "CodesApproved",
    "CodesIncorrect",
    "CodesExpired",
    "CodesLocked",
    "NetworkGuessLocks",
    "DestinationGuessLocks",
    "SendsRefused",
    "FallbacksUsed",
    "SmsSpend",
    "SmsBudget",
    "SmsSegments",
    "TestDestinationSends",
    "BotChecksFailedOpen",
    "TotpApproved",
    "TotpIncorrect",
    "TotpReplaysRefused",
    "TotpLocked",
    "FeedbackFailures",
    "MessagesDelivered",
    "MessagesFailed",
    "EmailsBounced",
    "EmailsComplained",
    "DeliveryRate",
];

/// Where the use cases report what happened. Recording never fails: a lost metric must not fail
/// the request it describes.
pub trait Metrics: Send + Sync {
    fn record(&self, event: &MetricEvent);
}

/// Something worth counting. Each becomes one EMF record; the doc of each variant names its
/// CloudWatch metric.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricEvent {
    /// `CodesSent` by channel, and by channel and country (ISO 3166 alpha-2, e.g. "GB") when known.
    CodeSent {
        channel: Channel,
        country: Option<String>,
    },
    /// `DeliveryFailures` by channel.
    DeliveryFailed { channel: Channel },
    /// `CodesApproved` by channel, and by channel and country when known (conversion per country).
    CodeApproved {
        channel: Channel,
        country: Option<String>,
    },
    /// `CodesIncorrect`.
    CodeIncorrect,
    /// `CodesExpired`.
    CodeExpired,
    /// `CodesLocked`: a code refused for its own attempts or a guess lock.
    CodeLocked,
    /// `DestinationGuessLocks` when the destination's daily guess budget is spent (locked for
    /// everyone; alarmed), else `NetworkGuessLocks` (one network locked out of one destination).
    GuessLock { everyone: bool },
    /// `SendsRefused` by reason.
    SendRefused { reason: &'static str },
    /// `FallbacksUsed` by reason.
    FallbackUsed { reason: &'static str },
    /// `SmsSpend` (the SMS's price times its segments), `SmsBudget` and `SmsSegments` in one
    /// record, so a dashboard can set spend against budget, and segments against `CodesSent`.
    SmsSpend {
        amount: f64,
        budget: f64,
        segments: u64,
    },
    /// `TestDestinationSends`.
    TestDestinationSend,
    /// `BotChecksFailedOpen`: a bot-check provider gave no verdict and the profile let the send
    /// through unchecked.
    BotCheckFailedOpen,
    /// `TotpApproved`.
    TotpApproved,
    /// `TotpIncorrect`.
    TotpIncorrect,
    /// `TotpReplaysRefused`.
    TotpReplayRefused,
    /// `TotpLocked`.
    TotpLocked,
    /// `FeedbackFailures` by channel: an approved code's "code entered" signal did not reach the
    /// provider (refused, failed, or slower than the verify waits).
    FeedbackFailed { channel: Channel },
    /// `MessagesDelivered` by channel, and by channel and country (SMS and voice, when the
    /// provider named it): a provider reported a sent message delivered (the events function).
    MessageDelivered {
        channel: Channel,
        country: Option<Region>,
    },
    /// `MessagesFailed` by channel, by channel and country, and by channel and reason (one of
    /// `delivery_events::FAILURE_REASONS`).
    MessageFailed {
        channel: Channel,
        country: Option<Region>,
        reason: &'static str,
    },
    /// `EmailsBounced` by bounce type (`permanent`, `transient`).
    EmailBounced { permanent: bool },
    /// `EmailsComplained`: a recipient marked a delivered email as spam.
    EmailComplained,
    /// `DeliveryRate` (a percentage: 100 for a message reported delivered, 0 for one reported
    /// failed or bounced) by channel, and by channel and country: its average over a period is
    /// the share of the outcomes reported in it that were deliveries, which a dashboard can show
    /// per country with one search (CloudWatch cannot divide one search's results by another's).
    DeliveryOutcome {
        channel: Channel,
        country: Option<Region>,
        delivered: bool,
    },
}

/// The dimension sets of a metric with no dimensions: EMF wants one set, and it may be empty.
const NO_DIMENSIONS: &[&[&str]] = &[&[]];
const BY_CHANNEL: &[&[&str]] = &[&["Channel"]];
const BY_CHANNEL_AND_COUNTRY: &[&[&str]] = &[&["Channel"], &["Channel", "Country"]];
const BY_REASON: &[&[&str]] = &[&["Reason"]];
const BY_CHANNEL_AND_REASON: &[&[&str]] = &[&["Channel"], &["Channel", "Reason"]];
const BY_CHANNEL_COUNTRY_AND_REASON: &[&[&str]] = &[
    &["Channel"],
    &["Channel", "Country"],
    &["Channel", "Reason"],
];
const BY_BOUNCE_TYPE: &[&[&str]] = &[&["BounceType"]];

/// What an event becomes in CloudWatch.
#[derive(Debug)]
pub struct Shape<'a> {
    pub dimension_sets: &'static [&'static [&'static str]],
    /// The values of the dimensions the sets name.
    pub dimensions: Vec<(&'static str, &'a str)>,
    pub metrics: Vec<Metric>,
}

#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub unit: &'static str,
    pub value: Number,
}

impl Metric {
    fn count(name: &'static str) -> Self {
        Self::counted(name, 1)
    }

    fn counted(name: &'static str, count: u64) -> Self {
        Self {
            name,
            unit: "Count",
            value: Number::from(count),
        }
    }

    /// `None` for NaN and infinities: JSON cannot carry them, and EMF drops a record whose metric
    /// is not a number.
    fn percent(name: &'static str, value: u64) -> Self {
        Self {
            name,
            unit: "Percent",
            value: Number::from(value),
        }
    }

    fn amount(name: &'static str, value: f64) -> Option<Self> {
        Some(Self {
            name,
            unit: "None",
            value: Number::from_f64(value)?,
        })
    }
}

impl<'a> Shape<'a> {
    fn plain(name: &'static str) -> Self {
        Self {
            dimension_sets: NO_DIMENSIONS,
            dimensions: Vec::new(),
            metrics: vec![Metric::count(name)],
        }
    }

    /// By channel, and by channel and country when the country is a valid ISO code.
    fn by_channel_and_country(
        name: &'static str,
        channel: Channel,
        country: Option<&'a str>,
    ) -> Self {
        match country.filter(|c| is_alpha2(c)) {
            Some(country) => Self {
                dimension_sets: BY_CHANNEL_AND_COUNTRY,
                dimensions: vec![("Channel", channel.as_str()), ("Country", country)],
                metrics: vec![Metric::count(name)],
            },
            None => Self::by_channel(name, channel),
        }
    }

    fn by_channel(name: &'static str, channel: Channel) -> Self {
        Self {
            dimension_sets: BY_CHANNEL,
            dimensions: vec![("Channel", channel.as_str())],
            metrics: vec![Metric::count(name)],
        }
    }

    /// One metric of a delivery event by channel, and by channel and country when there is one.
    fn by_event_channel_and_country(
        channel: Channel,
        country: Option<&'a Region>,
        metric: Metric,
    ) -> Self {
        let mut dimensions = vec![("Channel", channel.as_str())];
        let dimension_sets = match country {
            Some(country) => {
                dimensions.push(("Country", country.as_str()));
                BY_CHANNEL_AND_COUNTRY
            }
            None => BY_CHANNEL,
        };
        Self {
            dimension_sets,
            dimensions,
            metrics: vec![metric],
        }
    }

    fn by_reason(name: &'static str, reason: &'a str) -> Self {
        Self {
            dimension_sets: BY_REASON,
            dimensions: vec![("Reason", reason)],
            metrics: vec![Metric::count(name)],
        }
    }
}

/// Whether a country is an ISO 3166 alpha-2 code. Anything else is left out of the dimensions: a
/// free-form value could multiply custom metrics (each value is billed) or carry personal data.
fn is_alpha2(country: &str) -> bool {
    country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())
}

impl MetricEvent {
    /// `None` when a value cannot be written as a JSON number.
    pub fn shape(&self) -> Option<Shape<'_>> {
        use MetricEvent as E;
        Some(match self {
            E::CodeSent { channel, country } => {
                Shape::by_channel_and_country("CodesSent", *channel, country.as_deref())
            }
            E::DeliveryFailed { channel } => Shape::by_channel("DeliveryFailures", *channel),
            E::CodeApproved { channel, country } => {
                Shape::by_channel_and_country("CodesApproved", *channel, country.as_deref())
            }
            E::CodeIncorrect => Shape::plain("CodesIncorrect"),
            E::CodeExpired => Shape::plain("CodesExpired"),
            E::CodeLocked => Shape::plain("CodesLocked"),
            E::GuessLock { everyone: true } => Shape::plain("DestinationGuessLocks"),
            E::GuessLock { everyone: false } => Shape::plain("NetworkGuessLocks"),
            E::SendRefused { reason } => Shape::by_reason("SendsRefused", reason),
            E::FallbackUsed { reason } => Shape::by_reason("FallbacksUsed", reason),
            E::SmsSpend {
                amount,
                budget,
                segments,
            } => Shape {
                dimension_sets: NO_DIMENSIONS,
                dimensions: Vec::new(),
                metrics: vec![
                    Metric::amount("SmsSpend", *amount)?,
                    Metric::amount("SmsBudget", *budget)?,
                    Metric::counted("SmsSegments", *segments),
                ],
            },
            E::TestDestinationSend => Shape::plain("TestDestinationSends"),
            E::BotCheckFailedOpen => Shape::plain("BotChecksFailedOpen"),
            E::TotpApproved => Shape::plain("TotpApproved"),
            E::TotpIncorrect => Shape::plain("TotpIncorrect"),
            E::TotpReplayRefused => Shape::plain("TotpReplaysRefused"),
            E::TotpLocked => Shape::plain("TotpLocked"),
            E::FeedbackFailed { channel } => Shape::by_channel("FeedbackFailures", *channel),
            E::MessageDelivered { channel, country } => Shape::by_event_channel_and_country(
                *channel,
                country.as_ref(),
                Metric::count("MessagesDelivered"),
            ),
            E::MessageFailed {
                channel,
                country,
                reason,
            } => {
                let mut shape = Shape::by_event_channel_and_country(
                    *channel,
                    country.as_ref(),
                    Metric::count("MessagesFailed"),
                );
                shape.dimensions.push(("Reason", reason));
                shape.dimension_sets = match country {
                    Some(_) => BY_CHANNEL_COUNTRY_AND_REASON,
                    None => BY_CHANNEL_AND_REASON,
                };
                shape
            }
            E::EmailBounced { permanent } => Shape {
                dimension_sets: BY_BOUNCE_TYPE,
                dimensions: vec![(
                    "BounceType",
                    if *permanent { "permanent" } else { "transient" },
                )],
                metrics: vec![Metric::count("EmailsBounced")],
            },
            E::EmailComplained => Shape::plain("EmailsComplained"),
            E::DeliveryOutcome {
                channel,
                country,
                delivered,
            } => Shape::by_event_channel_and_country(
                *channel,
                country.as_ref(),
                Metric::percent("DeliveryRate", if *delivered { 100 } else { 0 }),
            ),
        })
    }
}

/// Records nothing: for tools and tests that do not look at metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn record(&self, _event: &MetricEvent) {}
}

//! The value a delivery event is parsed into, and the parsers' error.

use crate::domain::Channel;

use crate::domain::Region;

/// What the event says about the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It reached the recipient's carrier (SMS), was played to whoever answered (voice), or was
    /// accepted by the recipient's mail server (email).
    Delivered,
    /// It will not arrive; `reason` is one of [`FAILURE_REASONS`].
    Failed { reason: &'static str },
    /// The recipient's mail server refused it: for good (`permanent`), or after SES gave up retrying.
    Bounced { permanent: bool },
    /// The recipient marked a delivered email as spam.
    Complained,
    /// A step on the way (queued, ringing, sent…) or a receipt that follows a counted one: nothing
    /// to count.
    Ignored,
}

impl Outcome {
    /// The outcome as a log shows it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed { .. } => "failed",
            Outcome::Bounced { permanent: true } => "bounced-permanent",
            Outcome::Bounced { permanent: false } => "bounced-transient",
            Outcome::Complained => "complained",
            Outcome::Ignored => "ignored",
        }
    }
}

/// Every reason a [`Outcome::Failed`] can carry: the `Reason` dimension of `MessagesFailed` takes
/// only these (infra/check-template.py mirrors the list).
pub const FAILURE_REASONS: &[&str] = &[
    "blocked",
    "protect-blocked",
    "spam",
    "unreachable",
    "carrier-unreachable",
    "invalid",
    "invalid-message",
    "ttl-expired",
    "unknown",
    "busy",
    "no-answer",
    "rejected",
    "other",
];

/// A provider's id of one sent message (End User Messaging's `messageId`, SES's
/// `mail.messageId`): what the send function logged as `message_id` when it sent it, so a delivery
/// event's log line can be matched with the send's. Letters, digits and hyphens with at least one
/// hyphen (UUIDs and SES ids both have them), at most 128: a value that could be anything else, a
/// phone number included, is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId(String);

impl MessageId {
    pub fn parse(input: &str) -> Option<Self> {
        let shaped = !input.is_empty()
            && input.len() <= 128
            && input.contains('-')
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        shaped.then(|| Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One parsed delivery event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// The provider's event type (`TEXT_SUCCESSFUL`, `Bounce`…), from the parsers' own tables.
    pub event_type: &'static str,
    pub channel: Channel,
    /// The recipient's country, for SMS and voice when the event names a known one (ISO 3166-1
    /// alpha-2); never for email.
    pub country: Option<Region>,
    pub outcome: Outcome,
    pub message_id: Option<MessageId>,
}

/// Why a notification's message is not a delivery event this service understands. The text names
/// what was wrong, never what the input said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("not a delivery event: {what} at line {line}, column {column}")]
    Malformed {
        what: &'static str,
        line: usize,
        column: usize,
    },
    #[error("unknown event type {0}")]
    UnknownEventType(String),
}

impl EventError {
    pub(super) fn malformed(error: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        // Not `error.to_string()`: serde quotes the offending value, which could be anything.
        let what = match error.classify() {
            Category::Io => "unreadable",
            Category::Syntax => "invalid JSON",
            Category::Data => "a field missing or of the wrong type",
            Category::Eof => "truncated JSON",
        };
        EventError::Malformed {
            what,
            line: error.line(),
            column: error.column(),
        }
    }

    /// An event type we have no row for, shown only when it looks like one (letters, digits,
    /// underscores and spaces, at most 40), so a log line never carries whatever else it held.
    pub(super) fn unknown_type(event_type: &str) -> Self {
        let shown = event_type.len() <= 40
            && event_type
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b' ');
        EventError::UnknownEventType(if shown {
            format!("{event_type:?}")
        } else {
            "(not shown: not shaped like one)".to_owned()
        })
    }
}

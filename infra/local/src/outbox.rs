use std::collections::VecDeque;
use std::sync::Mutex;

use otp_shared::domain::Channel;
use otp_shared::ports::{Clock, Delivered, DeliveryError, Notifier, OutgoingMessage};
use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;

/// One message the local server "sent".
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub channel: Channel,
    pub to: String,
    pub subject: Option<String>,
    /// The text, when the outbox delivered it itself; absent when a provider (AWS) took the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The provider's message id, when a provider took the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
}

/// The local stand-in for SMS and email: prints each message to the console and keeps the most
/// recent [`Outbox::CAPACITY`] for `GET /_local/outbox`. The one place a code is shown, which is why
/// it exists only in otp-local.
pub struct Outbox {
    entries: Mutex<VecDeque<OutboxEntry>>,
    clock: Arc<dyn Clock>,
}

impl Outbox {
    /// Messages kept: far more than a person or a test reads back, few enough (well under 1 MiB)
    /// that a long-running otp-local's memory stays flat; older ones are forgotten.
    pub const CAPACITY: usize = 1_000;

    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Mutex::new(VecDeque::with_capacity(Self::CAPACITY)),
            clock,
        }
    }

    fn keep(&self, entry: OutboxEntry) {
        let mut entries = self.entries.lock().expect("outbox lock");
        if entries.len() == Self::CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// Notes a message a provider accepted, without its text (which holds the code).
    pub fn record_handover(&self, message: &OutgoingMessage, delivered: &Delivered) {
        let entry = OutboxEntry {
            channel: message.channel,
            to: message.to.clone(),
            subject: message.subject.clone(),
            body: None,
            message_id: delivered.message_id.clone(),
            sent_at: self.clock.now(),
        };
        println!(
            "── handed to AWS: {} to {} (message id {})\n",
            entry.channel,
            entry.to,
            entry.message_id.as_deref().unwrap_or("none")
        );
        self.keep(entry);
    }

    /// The messages kept, oldest first.
    pub fn entries(&self) -> Vec<OutboxEntry> {
        self.entries
            .lock()
            .expect("outbox lock")
            .iter()
            .cloned()
            .collect()
    }
}

impl Notifier for Outbox {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        let entry = OutboxEntry {
            channel: message.channel,
            to: message.to.clone(),
            subject: message.subject.clone(),
            body: Some(message.text.clone()),
            message_id: None,
            sent_at: self.clock.now(),
        };
        let subject = entry
            .subject
            .as_deref()
            .map(|s| format!("\n  subject: {s}"))
            .unwrap_or_default();
        println!(
            "── outbox: {} to {}{subject}\n  {}\n",
            entry.channel,
            entry.to,
            message.text.trim_end().replace('\n', "\n  ")
        );
        self.keep(entry);
        Ok(Delivered::default())
    }
}

#[cfg(test)]
mod tests {
    use otp_shared::adapters::ManualClock;
    use time::macros::datetime;

    use super::*;

    fn message(n: usize) -> OutgoingMessage {
        OutgoingMessage {
            channel: Channel::Email,
            to: format!("user-{n}@example.com"),
            masked_to: "u•••@example.com".to_owned(),
            subject: Some("Your code".to_owned()),
            text: format!("message {n}"),
            html: None,
        }
    }

    #[tokio::test]
    async fn keeps_only_the_most_recent_messages_oldest_first() {
        let outbox = Outbox::new(Arc::new(ManualClock::new(datetime!(2025-01-01 00:00 UTC))));
        let sent = Outbox::CAPACITY + 5;
        for n in 0..sent - 1 {
            outbox.deliver(&message(n)).await.unwrap();
        }
        let handed_over = Delivered {
            message_id: Some("provider-id".to_owned()),
        };
        outbox.record_handover(&message(sent - 1), &handed_over);

        let entries = outbox.entries();
        assert_eq!(entries.len(), Outbox::CAPACITY);
        let first_kept = sent - Outbox::CAPACITY;
        let to: Vec<_> = entries.iter().map(|e| e.to.clone()).collect();
        let expected: Vec<_> = (first_kept..sent)
            .map(|n| format!("user-{n}@example.com"))
            .collect();
        assert_eq!(to, expected, "the oldest go first, the order is kept");
        assert_eq!(entries[0].body.as_deref(), Some("message 5"));
        assert_eq!(
            entries.last().unwrap().message_id.as_deref(),
            Some("provider-id"),
            "a hand-over counts like a delivery"
        );
    }
}

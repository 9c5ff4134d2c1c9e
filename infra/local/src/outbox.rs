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
    /// The provider's message id; the outbox's own (`local-…`) for a call or an SMS it took itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// A call's SSML, as End User Messaging would be given it (`body` is what it says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssml: Option<String>,
    /// `RECEIVED` once the code's approval told the provider it arrived ("code entered").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<&'static str>,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
}

/// The local stand-in for SMS, email and calls: prints each message to the console (a call as
/// what it says) and keeps the most recent [`Outbox::CAPACITY`] for `GET /_local/outbox`. The one
/// place a code is shown, which is why it exists only in otp-local.
///
/// Like End User Messaging, it takes a "code entered" signal for the calls and SMS it carries: each
/// gets a message id, and an approval marks its entry `RECEIVED`.
pub struct Outbox {
    entries: Mutex<VecDeque<OutboxEntry>>,
    clock: Arc<dyn Clock>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Outbox {
    /// Messages kept: far more than a person or a test reads back, few enough (well under 1 MiB)
    /// that a long-running otp-local's memory stays flat; older ones are forgotten.
    pub const CAPACITY: usize = 1_000;

    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Mutex::new(VecDeque::with_capacity(Self::CAPACITY)),
            clock,
            next_id: std::sync::atomic::AtomicU64::new(1),
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
            ssml: None,
            feedback: None,
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

    /// Marks the entry of `message_id` as confirmed received; whether there was one.
    pub fn note_feedback(&self, message_id: &str) -> bool {
        let mut entries = self.entries.lock().expect("outbox lock");
        let entry = entries
            .iter_mut()
            .find(|e| e.message_id.as_deref() == Some(message_id));
        match entry {
            Some(entry) => {
                entry.feedback = Some("RECEIVED");
                true
            }
            None => false,
        }
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
        // A phone message gets an id, as End User Messaging's would, so its approval can confirm it.
        let message_id = message.channel.is_phone().then(|| {
            let n = self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("local-{n}")
        });
        let entry = OutboxEntry {
            channel: message.channel,
            to: message.to.clone(),
            subject: message.subject.clone(),
            body: Some(message.text.clone()),
            message_id: message_id.clone(),
            ssml: message.call.as_ref().map(|call| call.ssml.clone()),
            feedback: None,
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
        Ok(Delivered {
            takes_feedback: message_id.is_some(),
            message_id,
        })
    }

    async fn confirm_received(&self, message_id: &str) -> anyhow::Result<()> {
        if self.note_feedback(message_id) {
            println!("── outbox: message {message_id} confirmed received\n");
            Ok(())
        } else {
            anyhow::bail!("the outbox has no message {message_id}")
        }
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
            call: None,
            time_to_live: std::time::Duration::from_secs(300),
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
            takes_feedback: false,
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

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

/// The local stand-in for SMS and email: prints each message to the console and keeps it for
/// `GET /_local/outbox`. The one place a code is shown, which is why it exists only in otp-local.
pub struct Outbox {
    entries: Mutex<Vec<OutboxEntry>>,
    clock: Arc<dyn Clock>,
}

impl Outbox {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            clock,
        }
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
        self.entries.lock().expect("outbox lock").push(entry);
    }

    /// Every message so far, oldest first.
    pub fn entries(&self) -> Vec<OutboxEntry> {
        self.entries.lock().expect("outbox lock").clone()
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
        self.entries.lock().expect("outbox lock").push(entry);
        Ok(Delivered::default())
    }
}

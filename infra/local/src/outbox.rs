use std::sync::Mutex;

use otp_shared::domain::Channel;
use otp_shared::ports::{Clock, DeliveryError, Notifier, OutgoingMessage};
use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;

/// One message the local server "sent".
#[derive(Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub channel: Channel,
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
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

    /// Every message so far, oldest first.
    pub fn entries(&self) -> Vec<OutboxEntry> {
        self.entries.lock().expect("outbox lock").clone()
    }
}

impl Notifier for Outbox {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<(), DeliveryError> {
        let entry = OutboxEntry {
            channel: message.channel,
            to: message.to.clone(),
            subject: message.subject.clone(),
            body: message.text.clone(),
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
            entry.body.trim_end().replace('\n', "\n  ")
        );
        self.entries.lock().expect("outbox lock").push(entry);
        Ok(())
    }
}

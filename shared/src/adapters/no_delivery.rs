use crate::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};

/// A notifier for a build with no delivery provider wired in: it refuses every message, so a send
/// fails with 502 and its code is withdrawn rather than silently lost.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDelivery;

impl Notifier for NoDelivery {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        Err(DeliveryError {
            channel: message.channel,
            source: anyhow::anyhow!("no {} delivery provider is configured", message.channel),
        })
    }
}

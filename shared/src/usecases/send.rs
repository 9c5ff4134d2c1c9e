use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;

use super::{Otp, until};
use crate::domain::{
    Brand, ChallengeId, Channel, Code, CodeSpec, Destination, Locale, Purpose, Reference, Ttl,
};
use crate::messages::{self, CustomTemplate, MessageInput};
use crate::ports::{
    ChallengeStore, DeliveryError, NewChallenge, Notifier, OutgoingMessage, SendAdmission,
};

/// A send, fully parsed.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub destination: Destination,
    pub purpose: Purpose,
    pub spec: CodeSpec,
    pub ttl: Ttl,
    pub template: Option<CustomTemplate>,
    pub brand: Option<Brand>,
    pub locale: Locale,
    pub reference: Option<Reference>,
    /// Where the request came from, as the platform saw it: what per-client limits key on.
    pub client: Option<std::net::IpAddr>,
}

/// What the caller learns about a send: never the code, never the full address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    pub id: ChallengeId,
    pub channel: Channel,
    pub masked_to: String,
    pub purpose: Purpose,
    pub reference: Option<Reference>,
    pub expires_at: OffsetDateTime,
    pub resend_at: OffsetDateTime,
    pub attempts_remaining: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("a code was sent to this destination for this purpose moments ago")]
    CoolingDown { retry_after: Duration },
    #[error("this destination has been sent the most codes allowed for now")]
    CapReached { retry_after: Duration },
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl<S: ChallengeStore, N: Notifier> Otp<S, N> {
    /// Issues a code: records it (subject to the resend cooldown and the per-destination cap), then
    /// delivers it. A code whose delivery fails is withdrawn, but the send still counts.
    #[tracing::instrument(
        name = "send",
        skip_all,
        fields(channel = %request.destination.channel(), to = %request.destination.masked(), purpose = request.purpose.as_str(), client = request.client.map(tracing::field::display), id)
    )]
    pub async fn send(&self, request: SendRequest) -> Result<SendReceipt, SendError> {
        let now = self.clock.now();
        let id = ChallengeId::generate(self.randomness.as_ref());
        tracing::Span::current().record("id", id.as_str());
        let code = Code::generate(request.spec, self.randomness.as_ref());
        let expires_at = now + request.ttl.duration();
        let channel = request.destination.channel();
        let masked_to = request.destination.masked();

        let admission = self
            .store
            .begin(
                NewChallenge {
                    id: id.clone(),
                    destination: self.keys.destination_key(&request.destination),
                    purpose: request.purpose.clone(),
                    code_hash: self.keys.code_hash(&id, code.expose()),
                    channel,
                    masked_to: masked_to.clone(),
                    sealed_to: self.keys.destination_sealer().seal_bytes(
                        id.as_str().as_bytes(),
                        request.destination.address().as_bytes(),
                        self.randomness.as_ref(),
                    ),
                    reference: request.reference.clone(),
                    created_at: now,
                    expires_at,
                    max_attempts: self.settings.max_attempts,
                },
                self.settings.send_policy,
            )
            .await
            .context("recording the send")?;
        let resend_at = match admission {
            SendAdmission::Admitted { resend_at } => resend_at,
            SendAdmission::CoolingDown { retry_at } => {
                tracing::info!("refused: resend cooldown");
                return Err(SendError::CoolingDown {
                    retry_after: until(now, retry_at),
                });
            }
            SendAdmission::CapReached { retry_at } => {
                tracing::info!("refused: destination send cap reached");
                return Err(SendError::CapReached {
                    retry_after: until(now, retry_at),
                });
            }
        };

        let rendered = messages::render(
            channel,
            MessageInput {
                code: &code,
                brand: request.brand.as_ref(),
                ttl: request.ttl,
                purpose: &request.purpose,
                locale: &request.locale,
                template: request.template.as_ref(),
                sms_binding: None,
            },
        );
        let message = OutgoingMessage {
            channel,
            to: request.destination.address().to_owned(),
            masked_to: masked_to.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        };
        let delivered = match self.notifier.deliver(&message).await {
            Ok(delivered) => delivered,
            Err(error) => {
                tracing::warn!(error = %error, cause = %error.source, "delivery failed; withdrawing the code");
                if let Err(withdraw) = self.store.withdraw(&id, now).await {
                    // The code was never seen by anyone, so it is unusable in practice; still worth an alarm.
                    tracing::error!(error = ?withdraw, "could not withdraw an undelivered code");
                }
                return Err(SendError::Delivery(error));
            }
        };
        tracing::info!(message_id = delivered.message_id.as_deref(), "code sent");
        Ok(SendReceipt {
            id,
            channel,
            masked_to,
            purpose: request.purpose,
            reference: request.reference,
            expires_at,
            resend_at,
            attempts_remaining: self.settings.max_attempts,
        })
    }
}

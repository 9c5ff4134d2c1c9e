//! One send to one destination: a test destination's fixed code, or the SMS rules and the message
//! rendered before anything is recorded; then the record (cooldown, cap, quotas, guess lock) and
//! the delivery.

use std::time::Duration;

use anyhow::Context as _;

use super::{SendError, SendReceipt, SendRequest};
use crate::abuse;
use crate::domain::{ChallengeId, Channel, Code, CodeAttempt, Destination, Money, PhoneNumber};
use crate::messages::{self, MessageInput};
use crate::metrics::MetricEvent;
use crate::ports::{
    ChallengeStore, NewChallenge, Notifier, OutgoingMessage, SendAdmission, SendPolicy,
};
use crate::usecases::otp::{Otp, until};

/// The message carrying `code` to `channel`, in the request's words; a call says the code
/// `voice_repeats` times.
fn render(
    request: &SendRequest,
    channel: Channel,
    code: &Code,
    voice_repeats: u8,
) -> messages::RenderedMessage {
    messages::render(
        channel,
        MessageInput {
            code,
            brand: request.brand.as_ref(),
            ttl: request.ttl,
            purpose: &request.purpose,
            locale: &request.locale,
            template: request.message_template(channel),
            sms_binding: Some(&request.sms_binding).filter(|b| !b.is_empty()),
            transaction: request.transaction.as_ref(),
            voice_repeats,
        },
    )
}

/// A send to a test destination is recorded under this policy: no cooldown, no cap.
const TEST_DESTINATION_POLICY: SendPolicy = SendPolicy {
    resend_cooldown: Duration::ZERO,
    max_sends: u32::MAX,
    window: Duration::from_secs(1),
};

impl<S: ChallengeStore, N: Notifier> Otp<S, N> {
    /// Issues a code to `destination`: a test destination's fixed one, or a new one under the SMS
    /// or call rules, recorded under the cooldown (unless `waive_cooldown`: the same number's SMS
    /// just failed at the provider), cap and quotas (the client's when `charge_client`), then
    /// delivered; a code whose delivery fails is withdrawn.
    pub(super) async fn send_to(
        &self,
        request: &SendRequest,
        destination: &Destination,
        charge_client: bool,
        waive_cooldown: bool,
    ) -> Result<SendReceipt, SendError> {
        let now = self.clock.now();
        let id = ChallengeId::generate(self.randomness.as_ref());
        tracing::Span::current().record("id", id.as_str());
        let channel = destination.channel();
        let masked_to = destination.masked();

        // The profile's own test destinations, then the service's (`OTP_TEST_DESTINATIONS`).
        let test_code = request
            .profile
            .test_destinations
            .code_for(destination)
            .or_else(|| self.settings.test_destinations.code_for(destination));
        let client = request
            .client
            .filter(|_| charge_client)
            .map(|address| self.keys.client_key(&abuse::client_network(address)));
        // A test destination gets no message; any other's is rendered before anything is recorded,
        // so an SMS is charged for the segments it takes, and one too long is refused unsent.
        let (code, policy, quotas, rendered, spend) = match test_code {
            // No message, so no SMS rule or spend; but the asking client's quota, and the guess
            // budget of the destination (kept by the store), as for any other.
            Some(fixed) => (
                Code::fixed(CodeAttempt::parse(fixed).context("a configured test code")?),
                TEST_DESTINATION_POLICY,
                abuse::client_quota(&self.settings.limits, client.as_deref(), now)
                    .into_iter()
                    .collect(),
                None,
                None,
            ),
            None => {
                // The number's own rules first: nothing is rendered or recorded for a refusal.
                match destination {
                    Destination::Sms(number) => self
                        .settings
                        .sms
                        .admits_sms(number)
                        .map_err(SendError::SmsRefused)?,
                    Destination::Voice(number) => self
                        .settings
                        .voice
                        .admits(number)
                        .map_err(SendError::VoiceRefused)?,
                    Destination::Email(_) => {}
                }
                let code = Code::generate(request.spec, self.randomness.as_ref());
                let rendered = render(request, channel, &code, self.settings.voice.repeats);
                let (spend, sms_segments) = match destination {
                    Destination::Sms(number) => {
                        let size = messages::sms_size(&rendered.text);
                        // `render` has logged the segments and whether the text was custom.
                        if !size.fits() {
                            return Err(SendError::SmsTooLong {
                                segments: size.segments,
                            });
                        }
                        (
                            self.settings.sms.charge(number, size.segments),
                            size.segments,
                        )
                    }
                    Destination::Voice(number) => {
                        let minutes = rendered.call.as_ref().map_or(1, |c| c.billed_minutes());
                        (self.settings.voice.charge(number, minutes), 0)
                    }
                    Destination::Email(_) => (Money::from_micros(0), 0),
                };
                let quotas = abuse::quotas(
                    &self.settings.limits,
                    &self.settings.sms,
                    destination,
                    spend,
                    client.as_deref(),
                    now,
                );
                let mut policy = self.settings.send_policy;
                if waive_cooldown {
                    policy.resend_cooldown = std::time::Duration::ZERO;
                }
                (
                    code,
                    policy,
                    quotas,
                    Some(rendered),
                    Some((spend, sms_segments)),
                )
            }
        };
        let expires_at = now + request.ttl.duration();

        let admission = self
            .store
            .begin(
                NewChallenge {
                    id: id.clone(),
                    destination: self.keys.destination_key(&destination.recipient()),
                    purpose: request.purpose.clone(),
                    code_hash: self.keys.code_hash(id.as_str(), code.expose()),
                    channel,
                    masked_to: masked_to.clone(),
                    sealed_to: self.keys.destination_sealer().seal_bytes(
                        id.as_str().as_bytes(),
                        destination.address().as_bytes(),
                        self.randomness.as_ref(),
                    ),
                    reference: request.reference.clone(),
                    profile: request.profile.name.clone(),
                    transaction: request.transaction.clone(),
                    created_at: now,
                    expires_at,
                    max_attempts: request.profile.max_attempts,
                    guess_budget: request.profile.guess_budget,
                    network: self.network_of(&request.requester),
                    country: destination.phone().and_then(PhoneNumber::region),
                },
                policy,
                &quotas,
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
            SendAdmission::LockedOut {
                until: locked_until,
            } => {
                tracing::info!("refused: this network is locked out of the destination");
                return Err(SendError::LockedOut {
                    retry_after: until(now, locked_until),
                    until: locked_until,
                });
            }
            SendAdmission::OverQuota { kind, retry_at } => {
                tracing::info!(quota = ?kind, "refused: over quota");
                return Err(SendError::OverQuota {
                    kind,
                    retry_after: until(now, retry_at),
                });
            }
        };
        let receipt = SendReceipt {
            id,
            channel,
            masked_to,
            purpose: request.purpose.clone(),
            reference: request.reference.clone(),
            expires_at,
            resend_at,
            attempts_remaining: request.profile.max_attempts,
            fell_back: None,
            replayed: false,
        };
        if let (Some((amount, segments)), true) = (spend, channel.is_phone()) {
            self.metrics.record(&MetricEvent::SmsSpend {
                amount: amount.as_f64(),
                budget: self.settings.sms.daily_budget.as_f64(),
                segments: u64::try_from(segments).unwrap_or(u64::MAX),
            });
        }
        let Some(rendered) = rendered else {
            self.metrics.record(&MetricEvent::TestDestinationSend);
            tracing::warn!(
                audit = "test_destination_send",
                to = %receipt.masked_to,
                profile = request.profile.name.as_str(),
                "audit: a test destination was issued its fixed code; nothing was delivered"
            );
            return Ok(receipt);
        };

        let message = OutgoingMessage {
            channel,
            to: destination.address().to_owned(),
            masked_to: receipt.masked_to.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            call: rendered.call,
            time_to_live: request.ttl.duration(),
        };
        let delivered = match self.notifier.deliver(&message).await {
            Ok(delivered) => delivered,
            Err(error) => {
                tracing::warn!(error = %error, cause = %error.source, "delivery failed; withdrawing the code");
                self.metrics
                    .record(&MetricEvent::DeliveryFailed { channel });
                if let Err(withdraw) = self.store.withdraw(&receipt.id, now).await {
                    // The code was never seen by anyone, so it is unusable in practice; still worth an alarm.
                    tracing::error!(error = ?withdraw, "could not withdraw an undelivered code");
                }
                return Err(SendError::Delivery(error));
            }
        };
        tracing::info!(message_id = delivered.message_id.as_deref(), channel = %channel, "code sent");
        if let (true, Some(message_id)) = (delivered.takes_feedback, &delivered.message_id) {
            // Kept with the code, so its approval can tell the provider the code arrived. A failure
            // costs only that signal: the code is out and stays usable.
            if let Err(error) = self.store.note_message(&receipt.id, message_id).await {
                tracing::warn!(error = %error, "could not keep the message id with the code");
            }
        }
        self.metrics.record(&MetricEvent::CodeSent {
            channel,
            country: destination
                .phone()
                .and_then(PhoneNumber::region)
                .map(|r| r.as_str().to_owned()),
        });
        Ok(receipt)
    }
}

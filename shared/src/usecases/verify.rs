use anyhow::Context as _;

use crate::metrics::MetricEvent;

use super::{Otp, Requester, until};
use crate::domain::{ChallengeId, Channel, CodeAttempt, GuessLock};
use crate::ports::{ApprovedChallenge, ChallengeStore, Notifier, VerifyOutcome};
use crate::proof::{Proof, ProofSubject};

/// The longest an approval waits for the provider to take its "code entered" signal. End User
/// Messaging answers in tens of milliseconds in-region (BENCHMARKS.md); past this the approval
/// goes out without it.
pub const FEEDBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(300);

/// A verification attempt, fully parsed.
#[derive(Debug)]
pub struct VerifyRequest {
    pub id: ChallengeId,
    pub code: CodeAttempt,
    /// Whose guess this is: the destination's guess budget counts per network.
    pub requester: Requester,
}

/// A verify's outcome and, for an approval, the signed proof of it.
#[derive(Debug)]
pub struct Verification {
    pub outcome: VerifyOutcome,
    pub token: Option<String>,
    /// For a guess lock: how long until it ends, in whole seconds (`Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl<S: ChallengeStore, N: Notifier> Otp<S, N> {
    /// Checks a code in one store operation. The hash is computed whatever the id, so an unknown id
    /// costs the same work as a wrong code.
    #[tracing::instrument(name = "verify", skip_all, fields(id = request.id.as_str(), status))]
    pub async fn verify(&self, request: VerifyRequest) -> Result<Verification, VerifyError> {
        let now = self.clock.now();
        let candidate = self
            .keys
            .code_hash(request.id.as_str(), request.code.expose());
        let network = self.network_of(&request.requester);
        let outcome = self
            .store
            .verify(&request.id, &candidate, &network, now)
            .await
            .context("checking the code in the store")?;
        tracing::Span::current().record("status", outcome.status());
        tracing::info!("verified");
        let event = match &outcome {
            VerifyOutcome::Approved(approved) => Some(MetricEvent::CodeApproved {
                channel: approved.channel,
                country: approved.country.map(|c| c.as_str().to_owned()),
            }),
            VerifyOutcome::Incorrect { lock, .. } => {
                match lock {
                    Some(GuessLock::Network { .. }) => {
                        tracing::warn!(
                            audit = "guess_lock",
                            scope = "network",
                            "audit: wrong codes from one network locked it out of a destination"
                        );
                        self.metrics
                            .record(&MetricEvent::GuessLock { everyone: false });
                    }
                    Some(GuessLock::Destination { .. }) => {
                        tracing::warn!(
                            audit = "guess_lock",
                            scope = "destination",
                            "audit: the destination's daily guess budget is spent; it is locked for everyone"
                        );
                        self.metrics
                            .record(&MetricEvent::GuessLock { everyone: true });
                    }
                    None => {}
                }
                Some(MetricEvent::CodeIncorrect)
            }
            VerifyOutcome::Expired => Some(MetricEvent::CodeExpired),
            VerifyOutcome::Locked | VerifyOutcome::LockedOut { .. } => {
                Some(MetricEvent::CodeLocked)
            }
            VerifyOutcome::Consumed | VerifyOutcome::NotFound => None,
        };
        if let Some(event) = event {
            self.metrics.record(&event);
        }
        let token = match &outcome {
            VerifyOutcome::Approved(approved) => Some(self.proof_of(&request.id, approved, now)?),
            _ => None,
        };
        if let VerifyOutcome::Approved(approved) = &outcome
            && let Some(message_id) = &approved.message_id
        {
            self.confirm_received(approved.channel, message_id).await;
        }
        let retry_after = match &outcome {
            VerifyOutcome::LockedOut { until: end } => Some(until(now, *end)),
            _ => None,
        };
        Ok(Verification {
            outcome,
            token,
            retry_after,
        })
    }

    /// Tells the provider the code in `message_id` arrived, waiting at most
    /// [`FEEDBACK_TIMEOUT`]: a Lambda is frozen once it replies, so a signal left running might
    /// never be sent, and a slow provider must not hold up an approval for long. A failure is
    /// logged and costs only the signal.
    async fn confirm_received(&self, channel: Channel, message_id: &str) {
        let confirmed =
            tokio::time::timeout(FEEDBACK_TIMEOUT, self.notifier.confirm_received(message_id))
                .await;
        let failure = match confirmed {
            Ok(Ok(())) => {
                tracing::info!(channel = %channel, "told the provider the code was entered");
                return;
            }
            Ok(Err(error)) => format!("{error:#}"),
            Err(_) => format!("no answer within {} ms", FEEDBACK_TIMEOUT.as_millis()),
        };
        tracing::warn!(channel = %channel, error = %failure, "could not tell the provider the code was entered");
        self.metrics
            .record(&MetricEvent::FeedbackFailed { channel });
    }

    /// The proof token of an approval, naming the destination the code went to.
    fn proof_of(
        &self,
        id: &ChallengeId,
        approved: &ApprovedChallenge,
        now: time::OffsetDateTime,
    ) -> Result<String, VerifyError> {
        let address = self
            .keys
            .destination_sealer()
            .open_bytes(id.as_str().as_bytes(), &approved.sealed_to)
            .context("opening the sealed destination")?;
        let address = std::str::from_utf8(&address).context("a sealed destination is text")?;
        let (subject, method) = match approved.channel {
            Channel::Sms => (ProofSubject::PhoneNumber(address), "sms"),
            Channel::Email => (ProofSubject::Email(address), "email"),
            Channel::Voice => (ProofSubject::PhoneNumber(address), "voice"),
        };
        Ok(self.proof().sign(
            &Proof {
                jti: id.as_str(),
                subject,
                method,
                purpose: Some(approved.purpose.as_str()),
                reference: approved.reference.as_ref().map(|r| r.as_str()),
                transaction: approved.transaction.as_ref(),
                audience: self
                    .settings
                    .profiles
                    .get(&approved.profile)
                    .and_then(|profile| profile.token_audience.as_deref()),
            },
            now,
        ))
    }
}

impl VerifyOutcome {
    /// The `status` word of the verify reply.
    pub fn status(&self) -> &'static str {
        match self {
            VerifyOutcome::Approved(_) => "approved",
            VerifyOutcome::Incorrect { .. } => "incorrect",
            VerifyOutcome::Expired => "expired",
            VerifyOutcome::Locked | VerifyOutcome::LockedOut { .. } => "locked",
            VerifyOutcome::Consumed => "consumed",
            VerifyOutcome::NotFound => "not_found",
        }
    }
}

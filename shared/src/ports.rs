//! The boundary of the domain: what the use cases need from the world, one trait per port.
//! Adapters live in [`crate::adapters`] (and, for AWS, beside them in later work).

use std::future::Future;
use std::time::Duration;

use rand::RngCore;
use time::OffsetDateTime;

use crate::domain::{ChallengeId, Channel, Purpose, Reference};
use crate::hashing::{CodeHash, DestinationKey};

/// The current time. Passed in so tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// A source of cryptographically secure random bytes. Passed in so tests can seed it.
pub trait Randomness: Send + Sync {
    fn fill(&self, dest: &mut [u8]);
}

/// Lets rand's distributions draw from a [`Randomness`] port.
pub struct RandomnessRng<'a>(pub &'a dyn Randomness);

impl RngCore for RandomnessRng<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        self.0.fill(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.0.fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
}

/// A code about to be issued. The store keeps no code and no full address: only the keyed hash, a
/// keyed pseudonym of the destination and the masked address for replies.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    pub id: ChallengeId,
    pub destination: DestinationKey,
    pub purpose: Purpose,
    pub code_hash: CodeHash,
    pub channel: Channel,
    pub masked_to: String,
    pub reference: Option<Reference>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub max_attempts: u32,
}

/// How often one destination may be sent a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// A new send for the same destination and purpose is refused this long after the last one.
    pub resend_cooldown: Duration,
    /// At most this many sends to one destination (all purposes) within `window`.
    pub max_sends: u32,
    pub window: Duration,
}

impl SendPolicy {
    /// The decision every store applies, given what it holds for the destination: the times of its
    /// sends still inside the window (oldest first) and of the last send for this purpose.
    pub fn admit(
        &self,
        recent_sends: &[OffsetDateTime],
        last_for_purpose: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> SendAdmission {
        if let Some(last) = last_for_purpose {
            let retry_at = last + self.resend_cooldown;
            if now < retry_at {
                return SendAdmission::CoolingDown { retry_at };
            }
        }
        let window_start = now - self.window;
        let in_window: Vec<_> = recent_sends.iter().filter(|t| **t > window_start).collect();
        if in_window.len() >= self.max_sends as usize {
            // The oldest send in the window is the next to leave it.
            let retry_at = *in_window[in_window.len() - self.max_sends as usize] + self.window;
            return SendAdmission::CapReached { retry_at };
        }
        SendAdmission::Admitted {
            resend_at: now + self.resend_cooldown,
        }
    }
}

/// The store's answer to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAdmission {
    /// Recorded; any earlier pending code for the same destination and purpose no longer works.
    Admitted { resend_at: OffsetDateTime },
    /// Too soon after the last send for this destination and purpose.
    CoolingDown { retry_at: OffsetDateTime },
    /// The destination's send cap for the window is used up.
    CapReached { retry_at: OffsetDateTime },
}

/// What an approved code was for, as the verify reply reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedChallenge {
    pub purpose: Purpose,
    pub reference: Option<Reference>,
    pub channel: Channel,
    pub masked_to: String,
}

/// The store's answer to one verification attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// The code matched; it is now consumed.
    Approved(ApprovedChallenge),
    /// The code did not match; the failure was counted.
    Incorrect { attempts_remaining: u32 },
    /// Past its expiry, replaced by a newer code, or withdrawn after a failed delivery.
    Expired,
    /// Too many wrong attempts; not even the right code is accepted now.
    Locked,
    /// Already approved once.
    Consumed,
    /// No such id.
    NotFound,
}

/// A failure of the store itself (not a refusal): the caller gets an opaque 5xx.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] pub anyhow::Error);

/// Where challenges live. Each method is one atomic operation in the store, so concurrent requests
/// cannot slip between a check and a write.
pub trait ChallengeStore: Send + Sync {
    /// Applies `policy` for the challenge's destination and, if admitted, records the send and makes
    /// `challenge` the pending code for its destination and purpose, replacing any earlier one.
    fn begin(
        &self,
        challenge: NewChallenge,
        policy: SendPolicy,
    ) -> impl Future<Output = Result<SendAdmission, StoreError>> + Send;

    /// Makes a pending code unusable (its delivery failed). The send still counts toward the cap.
    fn withdraw(
        &self,
        id: &ChallengeId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// In one step: checks the code is not consumed, not expired and not locked, compares `candidate`
    /// with the stored hash in constant time, and either consumes the code or counts a failure.
    fn verify(
        &self,
        id: &ChallengeId,
        candidate: &CodeHash,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<VerifyOutcome, StoreError>> + Send;
}

/// A message ready to deliver. Its `Debug` leaves the bodies out: they carry the code.
#[derive(Clone)]
pub struct OutgoingMessage {
    pub channel: Channel,
    /// The full address: only a notifier may see it.
    pub to: String,
    pub masked_to: String,
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
}

impl std::fmt::Debug for OutgoingMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("channel", &self.channel)
            .field("to", &self.masked_to)
            .finish_non_exhaustive()
    }
}

/// A delivery that did not happen.
#[derive(Debug, thiserror::Error)]
#[error("{channel} delivery failed")]
pub struct DeliveryError {
    pub channel: Channel,
    #[source]
    pub source: anyhow::Error,
}

/// A message the provider accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The provider's id for the message (SNS / SES message id), for tracing a delivery.
    pub message_id: Option<String>,
}

/// Delivers messages (SMS, email).
pub trait Notifier: Send + Sync {
    fn deliver(
        &self,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<Delivered, DeliveryError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: SendPolicy = SendPolicy {
        resend_cooldown: Duration::from_secs(30),
        max_sends: 3,
        window: Duration::from_secs(900),
    };

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_800_000_000 + seconds)
    }

    #[test]
    fn a_first_send_is_admitted_with_its_resend_time() {
        assert_eq!(
            POLICY.admit(&[], None, at(0)),
            SendAdmission::Admitted { resend_at: at(30) }
        );
    }

    #[test]
    fn a_resend_inside_the_cooldown_waits_for_its_end() {
        assert_eq!(
            POLICY.admit(&[at(0)], Some(at(0)), at(29)),
            SendAdmission::CoolingDown { retry_at: at(30) }
        );
        assert!(matches!(
            POLICY.admit(&[at(0)], Some(at(0)), at(30)),
            SendAdmission::Admitted { .. }
        ));
    }

    #[test]
    fn the_cap_counts_sends_inside_the_window_only() {
        let sends = [at(0), at(100), at(200)];
        assert_eq!(
            POLICY.admit(&sends, None, at(300)),
            SendAdmission::CapReached { retry_at: at(900) }
        );
        // At 900 the first send has left the window.
        assert!(matches!(
            POLICY.admit(&sends, None, at(900)),
            SendAdmission::Admitted { .. }
        ));
    }
}

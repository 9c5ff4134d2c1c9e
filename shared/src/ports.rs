//! The boundary of the domain: what the use cases need from the world, one trait per port.
//! Adapters live in [`crate::adapters`] (and, for AWS, beside them in later work).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use time::OffsetDateTime;

use crate::crypto::{CodeHash, DestinationKey, IdempotentSend, SealedSecret};

// The rules' own types, which the store ports speak in.
use crate::domain::{
    BotCheckProvider, CaptchaToken, ChallengeId, Channel, Guess, GuessBudget, GuessLock,
    GuessRecord, NetworkKey, ProfileName, Purpose, Reference, Region, Transaction, UserId,
};
pub use crate::domain::{
    CodeState, IdempotencyClaim, Quota, QuotaKind, Refusal, SendAdmission, SendPolicy,
};
use crate::messages::VoiceMessage;
use crate::totp::TotpParams;

/// The current time. Passed in so tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
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
    /// The full address, sealed (challenge id as associated data): only an approval opens it, to
    /// name the verified destination in its proof token.
    pub sealed_to: SealedSecret,
    pub reference: Option<Reference>,
    /// The profile it was sent under: its proof-token audience applies at approval.
    pub profile: ProfileName,
    /// The payment it confirms, if any: the proof token carries it.
    pub transaction: Option<Transaction>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub max_attempts: u32,
    /// The guess budget of its profile: wrong codes for it count against the destination's.
    pub guess_budget: GuessBudget,
    /// The network asking for it: refused while that network is locked out of the destination.
    pub network: NetworkKey,
    /// The country of a phone destination, which approvals are counted under (conversion per
    /// country); never the number.
    pub country: Option<Region>,
}

/// What an approved code was for, as the verify reply reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedChallenge {
    pub purpose: Purpose,
    pub reference: Option<Reference>,
    pub profile: ProfileName,
    pub transaction: Option<Transaction>,
    pub channel: Channel,
    pub masked_to: String,
    pub sealed_to: SealedSecret,
    /// The provider's id of the message that carried the code, when the provider takes a "code
    /// entered" signal ([`Notifier::confirm_received`]).
    pub message_id: Option<String>,
    /// The country of a phone destination ([`NewChallenge::country`]).
    pub country: Option<Region>,
}

/// The store's answer to one verification attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    /// The code matched; it is now consumed.
    /// Boxed: the other outcomes are a few bytes, and an approval happens once per code.
    Approved(Box<ApprovedChallenge>),
    /// The code did not match; the failure was counted, against the code and the destination's
    /// guess budget, and may have started a lock (the next guess is refused).
    Incorrect {
        attempts_remaining: u32,
        lock: Option<GuessLock>,
    },
    /// Past its expiry, replaced by a newer code, or withdrawn after a failed delivery.
    Expired,
    /// Too many wrong attempts on this code; not even the right code is accepted now.
    Locked,
    /// The asking network (or everyone) guessed wrong too often at this code's destination: no
    /// code of it is checked until the lock ends.
    LockedOut { until: OffsetDateTime },
    /// Already approved once.
    Consumed,
    /// No such id.
    NotFound,
}

/// A failure of the store itself (not a refusal).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store did not answer in time, could not be reached, throttled us or failed on its side,
    /// after the client's own retries: the same request may succeed shortly (the caller gets a 503
    /// with `Retry-After`). Whether a write took effect is unknown.
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else (a malformed item, a refused request): the caller gets an opaque 500.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Where challenges live. Each method is one atomic operation in the store, so concurrent requests
/// cannot slip between a check and a write.
pub trait ChallengeStore: Send + Sync {
    /// Applies `policy` for the challenge's destination and charges every quota; only if all of
    /// that admits the send, atomically: records it, charges the quotas, and makes `challenge` the
    /// pending code for its destination and purpose, replacing any earlier one. A refusal records
    /// and charges nothing.
    fn begin(
        &self,
        challenge: NewChallenge,
        policy: SendPolicy,
        quotas: &[Quota],
    ) -> impl Future<Output = Result<SendAdmission, StoreError>> + Send;

    /// Makes a pending code unusable (its delivery failed). The send still counts toward the cap.
    fn withdraw(
        &self,
        id: &ChallengeId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims `send`'s key for `holder` until `lease_until`, in one conditional write, unless a send
    /// holds it (lease not over) or completed it (record not expired).
    fn claim_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> impl Future<Output = Result<IdempotencyClaim, StoreError>> + Send;

    /// Settles `holder`'s claim: with `Some(reply)`, keeps the reply for retries until `keep_until`;
    /// with `None` (the send was refused or failed, and a retry should be tried afresh), forgets the
    /// key. Does nothing if `holder` no longer holds it.
    fn settle_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        reply: Option<&str>,
        keep_until: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Keeps the provider's `message_id` with pending code `id`, for its approval to confirm
    /// ([`ApprovedChallenge::message_id`]). Nothing happens if the code is gone.
    fn note_message(
        &self,
        id: &ChallengeId,
        message_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// In one step: checks the code is not consumed, not expired, not locked and that `network` is
    /// not locked out of its destination, compares `candidate` with the stored hash in constant
    /// time, and either consumes the code or counts a failure. A failure is then counted against
    /// the destination's guess budget (see [`crate::domain::GuessRecord`]), which may lock
    /// `network` or everyone out of every live code of the destination. An approval resets the
    /// count of its network if that network had failures counted when the code was sent, or tried
    /// this code before ([`crate::domain::GuessRecord::guessing_networks`]); a network whose first
    /// wrong codes came after the send keeps its count, which can only make its lock come sooner.
    fn verify(
        &self,
        id: &ChallengeId,
        candidate: &CodeHash,
        network: &NetworkKey,
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
    /// An SMS's or email's text; what a call says, as plain text.
    pub text: String,
    pub html: Option<String>,
    /// A call's SSML and voice.
    pub call: Option<VoiceMessage>,
    /// How long the provider may keep trying: the code's lifetime.
    pub time_to_live: std::time::Duration,
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
    /// The provider's id for the message (SNS / SES / End User Messaging message id), for
    /// tracing a delivery.
    pub message_id: Option<String>,
    /// The provider takes a "code entered" signal for this message
    /// ([`Notifier::confirm_received`]): the send keeps its id with the code.
    pub takes_feedback: bool,
}

/// Delivers messages (SMS, email, calls).
pub trait Notifier: Send + Sync {
    fn deliver(
        &self,
        message: &OutgoingMessage,
    ) -> impl Future<Output = Result<Delivered, DeliveryError>> + Send;

    /// Tells the provider that the code in message `message_id` was entered and approved (End
    /// User Messaging's `PutMessageFeedback(RECEIVED)`, which it and the carriers use against
    /// SMS pumping). A notifier whose provider takes no such signal does nothing.
    fn confirm_received(
        &self,
        message_id: &str,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        let _ = message_id;
        async { Ok(()) }
    }
}

/// A bot-check provider's verdict on one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotVerdict {
    /// The provider accepted the token: solved, unexpired, not seen before.
    pub success: bool,
    /// The host name the token was solved on, as the provider reports it.
    pub hostname: Option<String>,
    /// The provider's reasons for a refusal (`invalid-input-response`, `timeout-or-duplicate`…).
    pub error_codes: Vec<String>,
}

/// The provider gave no verdict: no answer in time, no connection, a 5xx, an unreadable reply, or
/// a reply that blames our own request (a wrong secret). The check cannot say whether the token is
/// good.
#[derive(Debug, thiserror::Error)]
#[error("the bot-check provider gave no verdict")]
pub struct BotCheckUnavailable(#[source] pub anyhow::Error);

/// What [`BotCheck::verify`] returns: boxed, so the port can be held as `Arc<dyn BotCheck>`.
pub type BotCheckFuture<'a> =
    Pin<Box<dyn Future<Output = Result<BotVerdict, BotCheckUnavailable>> + Send + 'a>>;

/// Asks a bot-check provider (Turnstile, hCaptcha, reCAPTCHA) about a browser's token.
pub trait BotCheck: Send + Sync {
    /// The provider's verdict on `token`, solved by the browser at `remote_ip` (when known).
    fn verify<'a>(
        &'a self,
        provider: BotCheckProvider,
        token: &'a CaptchaToken,
        remote_ip: Option<IpAddr>,
    ) -> BotCheckFuture<'a>;
}

/// A user's authenticator enrolment as stored: the secret sealed, recovery codes as keyed hashes.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub user_id: UserId,
    /// Fresh for each enrolment, so a write meant for a replaced enrolment fails.
    pub enrollment_id: String,
    pub sealed_secret: SealedSecret,
    pub params: TotpParams,
    pub created_at: OffsetDateTime,
    /// Set while pending (no code confirmed yet): the enrolment lapses then.
    pub pending_until: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    /// The last time step accepted; only a later one is accepted next.
    pub last_step: Option<u64>,
    /// Wrong codes against this user, per client network and in all: [`GuessRecord`]'s rule, the
    /// same numbers as a destination's (`GuessBudget`).
    pub guesses: GuessRecord,
    /// How many times `guesses` was written: a store that writes the whole record makes each write
    /// conditional on the version it was decided on.
    pub guess_version: u64,
    pub recovery_hashes: Vec<CodeHash>,
}

impl Enrollment {
    /// A pending enrolment past its confirmation window counts as no enrolment.
    pub fn has_lapsed(&self, now: OffsetDateTime) -> bool {
        self.pending_until.is_some_and(|until| now >= until)
    }

    pub fn is_active(&self) -> bool {
        self.pending_until.is_none()
    }

    /// Whether this stored enrolment gives way to a new one: a pending (or lapsed) one always, an
    /// active one only when the new one asks to `replace` it.
    pub fn gives_way(&self, replace: bool) -> bool {
        replace || !self.is_active()
    }

    /// Accepts time step `step` from `network` at `now`, as every store decides it: refused while
    /// `network` is locked out, or when the step is not after the last one accepted (a replay, or
    /// an older code); else recorded, the enrolment active and `network`'s count reset.
    pub fn accept_step(
        &mut self,
        step: u64,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> StepOutcome {
        if let Some(until) = self.guesses.locked_until(network, now) {
            return StepOutcome::Locked { until };
        }
        if self.last_step.is_some_and(|last| step <= last) {
            return StepOutcome::Replayed;
        }
        self.last_step = Some(step);
        self.pending_until = None;
        self.last_used_at = Some(now);
        self.succeed(network, now);
        StepOutcome::Accepted
    }

    /// A wrong code (or recovery code) from `network` at `now`: not counted while `network` is
    /// locked out; else counted under `budget`, which may start a lock.
    pub fn count_failure(
        &mut self,
        budget: &GuessBudget,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> FailureOutcome {
        if let Some(until) = self.guesses.locked_until(network, now) {
            return FailureOutcome::Locked { until };
        }
        self.guess_version += 1;
        self.guesses.fail(budget, network, now).into()
    }

    /// Uses up the recovery code with keyed hash `hash`, from `network` at `now`: refused while
    /// `network` is locked out; unknown unless the enrolment is active and holds the code unused.
    pub fn use_recovery_code(
        &mut self,
        hash: &CodeHash,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> RecoveryOutcome {
        if let Some(until) = self.guesses.locked_until(network, now) {
            return RecoveryOutcome::Locked { until };
        }
        let position = self.recovery_hashes.iter().position(|h| h == hash);
        match position {
            Some(i) if self.is_active() => {
                self.recovery_hashes.swap_remove(i);
                self.last_used_at = Some(now);
                self.succeed(network, now);
                RecoveryOutcome::Accepted {
                    remaining: self.recovery_hashes.len() as u32,
                }
            }
            _ => RecoveryOutcome::Unknown,
        }
    }

    /// A right code or recovery code from `network`: its count and escalation start again.
    fn succeed(&mut self, network: &NetworkKey, now: OffsetDateTime) {
        self.guesses.succeed(network);
        self.guesses.prune(now);
        self.guess_version += 1;
    }

    /// Whether this is still the enrolment `enrollment_id` names and it has not lapsed: what every
    /// write decided on that enrolment requires.
    pub fn is_live(&self, enrollment_id: &str, now: OffsetDateTime) -> bool {
        self.enrollment_id == enrollment_id && !self.has_lapsed(now)
    }
}

/// The store's answer to an enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollAdmission {
    Enrolled,
    /// An active enrolment exists and `replace` was not asked for.
    ActiveExists,
}

/// The store's answer to a matched time step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Recorded as the last step; the enrolment is active and its failure count reset.
    Accepted,
    /// The step is not after the last one accepted: a replay, or an older code after a newer one.
    Replayed,
    Locked {
        until: OffsetDateTime,
    },
    /// The enrolment was removed, replaced or lapsed meanwhile.
    Gone,
}

/// The store's answer to a wrong code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    Counted {
        attempts_remaining: u32,
    },
    /// This wrong code started a lock (of its network, or of the user for everyone).
    LockStarted(GuessLock),
    /// The network was already locked out: not counted.
    Locked {
        until: OffsetDateTime,
    },
    Gone,
}

/// The store's answer to a recovery code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryOutcome {
    /// Used up; this many remain.
    Accepted {
        remaining: u32,
    },
    /// Not one of the user's unused codes (or the enrolment is still pending).
    Unknown,
    Locked {
        until: OffsetDateTime,
    },
    Gone,
}

/// Where authenticator enrolments live. Each method is one atomic operation.
pub trait TotpStore: Send + Sync {
    /// Stores `enrollment`, replacing a pending (or lapsed) one, and an active one only if `replace`.
    fn enroll(
        &self,
        enrollment: Enrollment,
        replace: bool,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<EnrollAdmission, StoreError>> + Send;

    /// The user's enrolment, unless none or lapsed.
    fn enrollment(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Enrollment>, StoreError>> + Send;

    /// Deletes the user's enrolment; whether there was one.
    fn remove(&self, user: &UserId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Accepts `step` for `enrollment` (as the caller read it) if it is after the last accepted step
    /// and `network` is not locked out: activates a pending enrolment and resets `network`'s count.
    fn accept_step(
        &self,
        enrollment: &Enrollment,
        step: u64,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<StepOutcome, StoreError>> + Send;

    /// Counts a wrong code from `network`; locks at the budget's limits.
    fn count_failure(
        &self,
        enrollment: &Enrollment,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<FailureOutcome, StoreError>> + Send;

    /// Uses up the recovery code with keyed hash `hash` of an active enrolment, unless `network` is
    /// locked out; resets `network`'s count.
    fn use_recovery_code(
        &self,
        enrollment: &Enrollment,
        hash: &CodeHash,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<RecoveryOutcome, StoreError>> + Send;
}

impl From<Refusal> for VerifyOutcome {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Consumed => VerifyOutcome::Consumed,
            Refusal::Expired => VerifyOutcome::Expired,
            Refusal::Locked => VerifyOutcome::Locked,
            Refusal::LockedOut { until } => VerifyOutcome::LockedOut { until },
        }
    }
}

impl From<Guess> for FailureOutcome {
    fn from(guess: Guess) -> Self {
        match guess {
            Guess::Counted { attempts_remaining } => FailureOutcome::Counted { attempts_remaining },
            Guess::LockStarted(lock) => FailureOutcome::LockStarted(lock),
        }
    }
}

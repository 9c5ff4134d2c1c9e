//! The store and delivery otp-local runs on, chosen at start-up: the in-memory doubles or the AWS
//! adapters the Lambdas use.

use otp_shared::adapters::MemoryStore;
use otp_shared::adapters::aws::{AwsDelivery, DynamoStore};
use otp_shared::crypto::CodeHash;
use otp_shared::crypto::IdempotentSend;
use otp_shared::domain::{ChallengeId, GuessBudget, NetworkKey, UserId};
use otp_shared::ports::{
    ChallengeStore, Delivered, DeliveryError, EnrollAdmission, Enrollment, FailureOutcome,
    IdempotencyClaim, NewChallenge, Notifier, OutgoingMessage, Quota, RecoveryOutcome,
    SendAdmission, SendPolicy, StepOutcome, StoreError, TotpStore, VerifyOutcome,
};
use time::OffsetDateTime;

use crate::Outbox;

/// `--store memory` or `--store dynamodb`.
#[derive(Debug)]
pub enum LocalStore {
    // Boxed: the in-memory store is several times the size of the DynamoDB client handle.
    Memory(Box<MemoryStore>),
    Dynamo(DynamoStore),
}

impl LocalStore {
    pub fn memory() -> Self {
        Self::Memory(Box::default())
    }
}

/// Calls the same method on whichever store otp-local runs on.
macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            LocalStore::Memory(store) => store.$method($($arg),*).await,
            LocalStore::Dynamo(store) => store.$method($($arg),*).await,
        }
    };
}

impl ChallengeStore for LocalStore {
    async fn begin(
        &self,
        challenge: NewChallenge,
        policy: SendPolicy,
        quotas: &[Quota],
    ) -> Result<SendAdmission, StoreError> {
        delegate!(self.begin(challenge, policy, quotas))
    }

    async fn claim_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<IdempotencyClaim, StoreError> {
        delegate!(self.claim_idempotency(send, holder, now, lease_until))
    }

    async fn settle_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        reply: Option<&str>,
        keep_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self.settle_idempotency(send, holder, reply, keep_until))
    }

    async fn withdraw(&self, id: &ChallengeId, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self.withdraw(id, now))
    }

    async fn note_message(&self, id: &ChallengeId, message_id: &str) -> Result<(), StoreError> {
        delegate!(self.note_message(id, message_id))
    }

    async fn verify(
        &self,
        id: &ChallengeId,
        candidate: &CodeHash,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Result<VerifyOutcome, StoreError> {
        delegate!(self.verify(id, candidate, network, now))
    }
}

impl TotpStore for LocalStore {
    async fn enroll(
        &self,
        enrollment: Enrollment,
        replace: bool,
        now: OffsetDateTime,
    ) -> Result<EnrollAdmission, StoreError> {
        delegate!(self.enroll(enrollment, replace, now))
    }

    async fn enrollment(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Option<Enrollment>, StoreError> {
        delegate!(self.enrollment(user, now))
    }

    async fn remove(&self, user: &UserId) -> Result<bool, StoreError> {
        delegate!(self.remove(user))
    }

    async fn accept_step(
        &self,
        enrollment: &Enrollment,
        step: u64,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<StepOutcome, StoreError> {
        delegate!(self.accept_step(enrollment, step, network, budget, now))
    }

    async fn count_failure(
        &self,
        enrollment: &Enrollment,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<FailureOutcome, StoreError> {
        delegate!(self.count_failure(enrollment, network, budget, now))
    }

    async fn use_recovery_code(
        &self,
        enrollment: &Enrollment,
        hash: &CodeHash,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<RecoveryOutcome, StoreError> {
        delegate!(self.use_recovery_code(enrollment, hash, network, budget, now))
    }
}

/// `--delivery outbox` (print and keep every message) or `--delivery aws` (SNS, SES and End User
/// Messaging; the outbox
/// then notes each hand-over and its message id, without the text).
pub enum LocalDelivery {
    Outbox(Outbox),
    // Boxed: the AWS clients are several times the outbox's size.
    Aws(Box<AwsDelivery>, Outbox),
}

impl LocalDelivery {
    pub fn outbox(&self) -> &Outbox {
        match self {
            Self::Outbox(outbox) | Self::Aws(_, outbox) => outbox,
        }
    }
}

impl Notifier for LocalDelivery {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        match self {
            Self::Outbox(outbox) => outbox.deliver(message).await,
            Self::Aws(aws, outbox) => {
                let delivered = aws.deliver(message).await?;
                outbox.record_handover(message, &delivered);
                Ok(delivered)
            }
        }
    }

    async fn confirm_received(&self, message_id: &str) -> anyhow::Result<()> {
        match self {
            Self::Outbox(outbox) => outbox.confirm_received(message_id).await,
            Self::Aws(aws, outbox) => {
                aws.confirm_received(message_id).await?;
                outbox.note_feedback(message_id);
                Ok(())
            }
        }
    }
}

//! The store and delivery otp-local runs on, chosen at start-up: the in-memory doubles or the AWS
//! adapters the Lambdas use.

use otp_shared::adapters::MemoryStore;
use otp_shared::adapters::aws::{AwsDelivery, DynamoStore};
use otp_shared::domain::ChallengeId;
use otp_shared::hashing::CodeHash;
use otp_shared::ports::{
    ChallengeStore, Delivered, DeliveryError, NewChallenge, Notifier, OutgoingMessage,
    SendAdmission, SendPolicy, StoreError, VerifyOutcome,
};
use time::OffsetDateTime;

use crate::Outbox;

/// `--store memory` or `--store dynamodb`.
#[derive(Debug)]
pub enum LocalStore {
    Memory(MemoryStore),
    Dynamo(DynamoStore),
}

impl LocalStore {
    pub fn memory() -> Self {
        Self::Memory(MemoryStore::new())
    }
}

impl ChallengeStore for LocalStore {
    async fn begin(
        &self,
        challenge: NewChallenge,
        policy: SendPolicy,
    ) -> Result<SendAdmission, StoreError> {
        match self {
            Self::Memory(store) => store.begin(challenge, policy).await,
            Self::Dynamo(store) => store.begin(challenge, policy).await,
        }
    }

    async fn withdraw(&self, id: &ChallengeId, now: OffsetDateTime) -> Result<(), StoreError> {
        match self {
            Self::Memory(store) => store.withdraw(id, now).await,
            Self::Dynamo(store) => store.withdraw(id, now).await,
        }
    }

    async fn verify(
        &self,
        id: &ChallengeId,
        candidate: &CodeHash,
        now: OffsetDateTime,
    ) -> Result<VerifyOutcome, StoreError> {
        match self {
            Self::Memory(store) => store.verify(id, candidate, now).await,
            Self::Dynamo(store) => store.verify(id, candidate, now).await,
        }
    }
}

/// `--delivery outbox` (print and keep every message) or `--delivery aws` (SNS and SES; the outbox
/// then notes each hand-over and its message id, without the text).
pub enum LocalDelivery {
    Outbox(Outbox),
    Aws(AwsDelivery, Outbox),
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
}

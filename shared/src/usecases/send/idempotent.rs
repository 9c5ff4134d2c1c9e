//! `Otp::send`, the entry of a send: the bot check first, then, when the caller sent an
//! `Idempotency-Key`, the key claimed, an earlier reply replayed, and the key settled after.

use anyhow::Context as _;
use time::OffsetDateTime;

use super::{
    Caller, FallbackReason, IDEMPOTENCY_LEASE, IDEMPOTENCY_WINDOW, SendError, SendReceipt,
    SendRequest,
};
use crate::abuse;
use crate::domain::{ChallengeId, Channel, Purpose, Reference};
use crate::ports::{ChallengeStore, IdempotencyClaim, Notifier};
use crate::usecases::otp::{Otp, until};

impl<S: ChallengeStore, N: Notifier> Otp<S, N> {
    /// Issues a code: checks the SMS rules, records it (subject to the resend cooldown, the
    /// per-destination cap and the quotas), then delivers it. A code whose delivery fails is
    /// withdrawn, but the send still counts. An SMS refused by an SMS rule, or failing at the
    /// provider, goes to the fallback email address instead when the request gives one.
    #[tracing::instrument(
        name = "send",
        skip_all,
        fields(channel = %request.destination.channel(), to = %request.destination.masked(), purpose = request.purpose.as_str(), client = request.client.map(tracing::field::display), id)
    )]
    pub async fn send(&self, request: SendRequest) -> Result<SendReceipt, SendError> {
        // First of all: a send the bot check refuses claims, stores and sends nothing.
        self.check_bot(&request).await?;
        let Some(idempotency) = &request.idempotency else {
            return self.send_with_fallback(&request).await;
        };
        let now = self.clock.now();
        // Scoped to the caller and the destination: a key guessed or reused by anyone else, or for
        // another destination, is a new request, never a replay of someone else's reply.
        let caller = match &idempotency.caller {
            Caller::Server(principal) => format!("server:{principal}"),
            Caller::Public => match request.client {
                Some(address) => format!(
                    "public:{}",
                    self.keys.client_key(&abuse::client_network(address))
                ),
                None => "public:".to_owned(),
            },
        };
        let scope = [
            caller.as_bytes(),
            &[0],
            self.keys
                .destination_key(&request.destination.recipient())
                .as_str()
                .as_bytes(),
        ]
        .concat();
        let record =
            self.keys
                .idempotent_send(idempotency.key.as_str(), &scope, &idempotency.request);
        // A fresh random id names this claim: only it may settle the key.
        let holder = ChallengeId::generate(self.randomness.as_ref());
        let claim = self
            .store
            .claim_idempotency(&record, &holder, now, now + IDEMPOTENCY_LEASE)
            .await
            .context("claiming the idempotency key")?;
        match claim {
            IdempotencyClaim::Claimed => {}
            IdempotencyClaim::Completed { reply } => {
                tracing::info!(
                    "replayed the reply of an earlier send with the same idempotency key"
                );
                return Ok(SendReceipt::from_stored(&reply)?);
            }
            IdempotencyClaim::InProgress { retry_at } => {
                return Err(SendError::IdempotencyKeyInUse {
                    retry_after: until(now, retry_at),
                });
            }
            IdempotencyClaim::Mismatch => return Err(SendError::IdempotencyKeyReused),
        }
        let result = self.send_with_fallback(&request).await;
        // Only a send that went out is replayed; after a refusal or a failure nothing was delivered
        // (a failed code is withdrawn), so a retry is decided afresh.
        let reply = result.as_ref().ok().map(SendReceipt::to_stored);
        if let Err(error) = self
            .store
            .settle_idempotency(&record, &holder, reply.as_deref(), now + IDEMPOTENCY_WINDOW)
            .await
        {
            // The send's own outcome stands; a retry after the lease would be decided afresh.
            tracing::error!(error = ?error, "could not settle an idempotency key");
        }
        result
    }
}

/// A receipt as an idempotency record keeps it, to replay to a retry.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredReceipt {
    id: String,
    channel: Channel,
    masked_to: String,
    purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    expires_at: i64,
    resend_at: i64,
    attempts_remaining: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fell_back: Option<String>,
}

impl SendReceipt {
    fn to_stored(&self) -> String {
        serde_json::to_string(&StoredReceipt {
            id: self.id.as_str().to_owned(),
            channel: self.channel,
            masked_to: self.masked_to.clone(),
            purpose: self.purpose.as_str().to_owned(),
            reference: self.reference.as_ref().map(|r| r.as_str().to_owned()),
            expires_at: self.expires_at.unix_timestamp(),
            resend_at: self.resend_at.unix_timestamp(),
            attempts_remaining: self.attempts_remaining,
            fell_back: self.fell_back.map(|reason| reason.as_str().to_owned()),
        })
        .expect("a receipt of strings and numbers serializes")
    }

    fn from_stored(stored: &str) -> anyhow::Result<Self> {
        let stored: StoredReceipt =
            serde_json::from_str(stored).context("reading a stored receipt")?;
        let time = |seconds| {
            OffsetDateTime::from_unix_timestamp(seconds).context("a stored receipt's time")
        };
        Ok(Self {
            id: ChallengeId::parse(&stored.id).context("a stored receipt's id")?,
            channel: stored.channel,
            masked_to: stored.masked_to,
            purpose: Purpose::parse(&stored.purpose).context("a stored receipt's purpose")?,
            reference: stored
                .reference
                .as_deref()
                .map(Reference::parse)
                .transpose()
                .context("a stored receipt's reference")?,
            expires_at: time(stored.expires_at)?,
            resend_at: time(stored.resend_at)?,
            attempts_remaining: stored.attempts_remaining,
            fell_back: stored
                .fell_back
                .as_deref()
                .map(|reason| {
                    FallbackReason::ALL
                        .into_iter()
                        .find(|r| r.as_str() == reason)
                        .context("a stored receipt's fallback reason")
                })
                .transpose()?,
            replayed: true,
        })
    }
}

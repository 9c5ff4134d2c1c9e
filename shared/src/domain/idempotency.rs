//! Idempotent sends: what a claim of a key finds, and how long a record is kept. Both stores apply
//! these rules; DynamoDB's conditions are their translation.

use std::time::Duration;

use time::OffsetDateTime;

/// What the store found when a send claimed its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// Unused, expired, or left by a send whose lease ran out: this send goes ahead, and its
    /// `holder` alone may complete or release the key.
    Claimed,
    /// A send of the same request with this key succeeded: its reply, as the use case stored it.
    Completed { reply: String },
    /// A send with this key is under way.
    InProgress { retry_at: OffsetDateTime },
    /// The key was used for a different request.
    Mismatch,
}

/// A lease that ran out is kept this long more, so the send that held it can still settle it
/// (keep its reply for retries, or release it) unless another claim took the key over.
pub const LAPSED_LEASE_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// An idempotency record as a store holds it.
#[derive(Debug, Clone, Copy)]
pub struct HeldKey<'a> {
    /// The hash of the request it was claimed for.
    pub fingerprint: &'a str,
    /// The reply of the send that completed it, once settled.
    pub reply: Option<&'a str>,
    /// The end of the lease while unsettled; of the kept reply once settled.
    pub until: OffsetDateTime,
}

impl HeldKey<'_> {
    /// Whether a claim at `now` may take the key: the lease, or the kept reply, is over.
    pub fn is_free(&self, now: OffsetDateTime) -> bool {
        self.until <= now
    }

    /// What a claim of the request `fingerprint` finds while the key is not free.
    pub fn refusal(&self, fingerprint: &str) -> IdempotencyClaim {
        if self.fingerprint != fingerprint {
            IdempotencyClaim::Mismatch
        } else if let Some(reply) = self.reply {
            IdempotencyClaim::Completed {
                reply: reply.to_owned(),
            }
        } else {
            IdempotencyClaim::InProgress {
                retry_at: self.until,
            }
        }
    }
}

/// Until when a store keeps a claim whose lease ends at `lease_until` (see [`LAPSED_LEASE_KEPT`]).
pub fn keep_claim_until(lease_until: OffsetDateTime) -> OffsetDateTime {
    lease_until + LAPSED_LEASE_KEPT
}

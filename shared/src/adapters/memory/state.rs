//! What the in-memory store holds, and how it forgets what no rule needs.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use crate::crypto::{CodeHash, DestinationKey};
use crate::domain::{
    ChallengeId, CodeState, GuessBudget, GuessRecord, HeldKey, NetworkKey, Purpose, UserId,
};
use crate::ports::{ApprovedChallenge, Enrollment, StoreError};

/// A store in process memory. One lock makes every operation atomic, as a conditional write does in
/// DynamoDB. For otp-local and tests; a Lambda needs a store shared by its containers.
#[derive(Debug, Default)]
pub struct MemoryStore {
    pub(super) inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
pub(super) struct Inner {
    pub(super) challenges: HashMap<ChallengeId, Stored>,
    pub(super) destinations: HashMap<DestinationKey, Sends>,
    pub(super) enrollments: HashMap<UserId, Enrollment>,
    /// Quota counters: what each has been charged, and when it resets.
    pub(super) counters: HashMap<String, (u64, OffsetDateTime)>,
    /// Idempotency records by slot.
    pub(super) idempotency: HashMap<String, IdempotencyRecord>,
    /// When each entry above can next be forgotten, soonest first. Forgetting a little at every send
    /// keeps a long-running otp-local bounded without ever pausing to walk everything under the lock.
    pub(super) expiries: BinaryHeap<Reverse<Expiry>>,
}

#[derive(Debug)]
pub(super) struct Expiry {
    pub(super) at: OffsetDateTime,
    pub(super) entry: Entry,
}

#[derive(Debug)]
pub(super) enum Entry {
    Challenge(ChallengeId),
    Destination(DestinationKey),
    Counter(String),
    Idempotency(String),
}

#[derive(Debug)]
pub(super) struct IdempotencyRecord {
    pub(super) fingerprint: String,
    pub(super) holder: ChallengeId,
    /// `None` while the send is under way.
    pub(super) reply: Option<String>,
    /// The end of the lease while under way; then how long the reply is kept.
    pub(super) until: OffsetDateTime,
}

impl IdempotencyRecord {
    pub(super) fn held(&self) -> HeldKey<'_> {
        HeldKey {
            fingerprint: &self.fingerprint,
            reply: self.reply.as_deref(),
            until: self.until,
        }
    }
}

// Ordered by time alone: which of two entries due together goes first does not matter.
impl Ord for Expiry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

impl PartialOrd for Expiry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Expiry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Expiry {}

#[derive(Debug)]
pub(super) struct Stored {
    pub(super) approved: ApprovedChallenge,
    pub(super) code_hash: CodeHash,
    pub(super) expires_at: OffsetDateTime,
    pub(super) max_attempts: u32,
    pub(super) failed_attempts: u32,
    pub(super) state: CodeState,
    pub(super) destination: DestinationKey,
    pub(super) guess_budget: GuessBudget,
    /// The networks that had failures counted at the destination when it was sent, or tried this
    /// code since: an approval from one of them resets its count (the rule DynamoDB can apply
    /// without reading the destination's item).
    pub(super) guessed_from: BTreeSet<NetworkKey>,
}

#[derive(Debug, Default)]
pub(super) struct Sends {
    pub(super) recent: VecDeque<OffsetDateTime>,
    pub(super) last_by_purpose: HashMap<Purpose, (OffsetDateTime, ChallengeId)>,
    /// How long a send to this destination matters to its rules (window, cooldown or the lifetime
    /// of its code, whichever is longest), under the longest policy and code it was sent with.
    pub(super) remembered_for: Duration,
    pub(super) guesses: GuessRecord,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Failed(anyhow::anyhow!("memory store lock poisoned")))
    }
}

impl Inner {
    /// Drops what no rule can still need: every entry whose time has come, and nothing else.
    pub(super) fn expire(&mut self, now: OffsetDateTime) {
        while self
            .expiries
            .peek()
            .is_some_and(|Reverse(next)| next.at <= now)
        {
            let Some(Reverse(due)) = self.expiries.pop() else {
                break;
            };
            match due.entry {
                Entry::Challenge(id) => {
                    self.challenges.remove(&id);
                }
                Entry::Destination(key) => {
                    if let Some(sends) = self.destinations.get_mut(&key) {
                        let keep_after = now - sends.remembered_for;
                        sends.recent.retain(|t| *t > keep_after);
                        sends.last_by_purpose.retain(|_, (t, _)| *t > keep_after);
                        sends.guesses.prune(now);
                        if sends.recent.is_empty()
                            && sends.last_by_purpose.is_empty()
                            && sends.guesses.is_empty()
                        {
                            self.destinations.remove(&key);
                        }
                    }
                }
                Entry::Idempotency(slot) => {
                    if self
                        .idempotency
                        .get(&slot)
                        .is_some_and(|record| record.until <= now)
                    {
                        self.idempotency.remove(&slot);
                    }
                }
                Entry::Counter(name) => {
                    if self
                        .counters
                        .get(&name)
                        .is_some_and(|(_, resets_at)| *resets_at <= now)
                    {
                        self.counters.remove(&name);
                    }
                }
            }
        }
    }

    pub(super) fn forget_at(&mut self, at: OffsetDateTime, entry: Entry) {
        self.expiries.push(Reverse(Expiry { at, entry }));
    }

    /// What a counter (one shard's item) stands at now (zero once its window is over).
    pub(super) fn used(&self, counter: &str, now: OffsetDateTime) -> u64 {
        self.counters
            .get(counter)
            .filter(|(_, resets_at)| *resets_at > now)
            .map_or(0, |(used, _)| *used)
    }
}

impl Inner {
    /// The user's live enrolment, if it is the one `enrollment_id` names.
    /// The stored enrolment `read` was read from, if it is still that one and has not lapsed.
    pub(super) fn live_enrollment(
        &mut self,
        read: &Enrollment,
        now: OffsetDateTime,
    ) -> Option<&mut Enrollment> {
        self.enrollments
            .get_mut(&read.user_id)
            .filter(|e| e.is_live(&read.enrollment_id, now))
    }
}

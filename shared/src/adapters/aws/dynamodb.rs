//! The challenge store on DynamoDB.
//!
//! One table with a string partition key `pk`; every item kind has its own key prefix and carries
//! `purge_at` (epoch seconds), the table's TTL attribute. TTL only tidies up: expiry is always checked
//! in a condition, because DynamoDB deletes expired items lazily (up to days later).
//!
//! - `code#<challenge id>`: one issued code — its keyed hash, state, expiry (epoch ms), attempts.
//! - `dest#<destination pseudonym>`: the recent sends to one destination and the last code per
//!   purpose, with a version for optimistic concurrency.
//! - `rate#<counter>#<window>`: a quota counter (`used`): sends from one client address (keyed
//!   pseudonym) or SMS to one country calling code or in all, per clock hour; SMS spend per UTC day
//!   (in millionths).
//!
//! - `idem#<key hash>`: a send made idempotent by the caller's key — a hash of the request, the
//!   holder's id, and once the send succeeded its reply; `until_ms` ends the holder's lease, then the
//!   time the reply is kept. Claimed with one conditional `PutItem`, settled with one conditional
//!   `UpdateItem` or `DeleteItem` on the holder.
//!
//! An approval is exactly one `UpdateItem`. A code counts as consumed once the hash of an attempt
//! recorded on it equals its code hash, so the same write that counts an attempt also consumes the
//! code: the condition requires the code pending, unexpired, below its attempt cap, not yet matched
//! (`last_attempt_hash <> code_hash`) and the asking network not locked out (the code's copies of its
//! destination's guess locks), and the update records the attempt's hash. The old item comes back
//! and the hashes are compared here in constant time; a refused condition returns the old item,
//! which says why (consumed, withdrawn or replaced, expired, locked) without a read. A wrong code is
//! then counted against the destination's guess budget ([`super::guesses`]).
//!
//! A send is one consistent `GetItem` of the destination item, the cooldown and cap decided by
//! [`SendPolicy::admit`], then one `TransactWriteItems`: the destination item (conditional on its
//! version), the new code item, the withdrawal of the code it replaces, and one conditional `ADD`
//! per quota counter, so a send over any limit records and charges nothing. A concurrent send to the
//! same destination makes the transaction fail its version check; the send is then decided again.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus, TransactWriteItem, Update,
};
use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::adapters::OsRandomness;
use crate::crypto::{CodeHash, IdempotentSend, SealedSecret};
use crate::domain::{
    ChallengeId, Channel, GuessBudget, NetworkKey, ProfileName, Purpose, Reference, Transaction,
};
use crate::ports::{
    ApprovedChallenge, ChallengeStore, IdempotencyClaim, NewChallenge, Quota, SendAdmission,
    SendPolicy, StoreError, VerifyOutcome,
};

/// The table's partition key and TTL attribute.
pub const PARTITION_KEY: &str = "pk";
pub const TTL_ATTRIBUTE: &str = "purge_at";

/// How long an expired code's item is kept, so a late verify hears `expired` rather than `not_found`.
const CODE_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// How often a send decides again after losing a race with a concurrent send to the same destination,
/// and how long a send that lost every time is told to wait.
const SEND_ATTEMPTS: usize = 8;
const CONTENDED_RETRY: Duration = Duration::from_secs(1);

const PENDING: &str = "pending";
const WITHDRAWN: &str = "withdrawn";

/// A [`ChallengeStore`] on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The destination's sends, read consistently (a fresh item when there are none).
    pub(super) async fn read_sends(&self, pk: &str) -> Result<DestinationItem, StoreError> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_owned())))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("reading the destination's sends"))?;
        Ok(match read.item {
            Some(item) => serde_dynamo::from_item(item).context("mapping the sends item")?,
            None => DestinationItem {
                pk: pk.to_owned(),
                ..DestinationItem::default()
            },
        })
    }
}

/// The key of a code's item.
pub fn code_key(id: &str) -> String {
    format!("code#{id}")
}

pub(super) fn destination_key(destination: &crate::crypto::DestinationKey) -> String {
    format!("dest#{}", destination.as_str())
}

pub(super) fn key(pk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([(PARTITION_KEY.to_owned(), AttributeValue::S(pk))])
}

pub(super) fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(super) fn from_millis(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Failed(anyhow!("stored time out of range: {e}")))
}

/// Epoch seconds, rounded up, for the TTL attribute.
pub(super) fn purge_seconds(t: OffsetDateTime) -> i64 {
    t.unix_timestamp() + i64::from(t.nanosecond() > 0)
}

fn hex(hash: &CodeHash) -> String {
    HEXLOWER.encode(hash.as_bytes())
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Failed(anyhow!("stored item is malformed: {what}"))
}

/// A code's item. Holds the keyed hash only, never the code, and the masked address only.
#[derive(Debug, Serialize, Deserialize)]
struct CodeItem {
    pk: String,
    code_hash: String,
    /// The hash of the latest attempt; equal to `code_hash` once the code has been approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_attempt_hash: Option<String>,
    /// The random name the latest verify wrote with its attempt (see [`DynamoStore::verify`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_attempt_id: Option<String>,
    state: String,
    attempts: u32,
    max_attempts: u32,
    created_at_ms: i64,
    expires_at_ms: i64,
    purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    /// Absent on codes stored before profiles: they were sent under `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transaction: Option<Transaction>,
    channel: Channel,
    masked_to: String,
    sealed_to: SealedSecret,
    purge_at: i64,
    /// The destination's item (`dest#…`), whose guess budget a wrong code counts against; absent
    /// on codes stored before the guess budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    guess_budget: Option<StoredGuessBudget>,
}

/// A profile's guess budget as a code item keeps it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct StoredGuessBudget {
    per_network: u32,
    lock_seconds: u64,
    per_destination: u32,
}

impl From<GuessBudget> for StoredGuessBudget {
    fn from(budget: GuessBudget) -> Self {
        Self {
            per_network: budget.per_network,
            lock_seconds: budget.lock_for.as_secs(),
            per_destination: budget.per_destination,
        }
    }
}

impl StoredGuessBudget {
    fn budget(self) -> Result<GuessBudget, StoreError> {
        GuessBudget::new(
            self.per_network,
            Duration::from_secs(self.lock_seconds),
            self.per_destination,
        )
        .map_err(|_| corrupt("guess budget"))
    }
}

impl CodeItem {
    fn new(challenge: &NewChallenge) -> Self {
        Self {
            pk: code_key(challenge.id.as_str()),
            code_hash: hex(&challenge.code_hash),
            last_attempt_hash: None,
            last_attempt_id: None,
            state: PENDING.to_owned(),
            attempts: 0,
            max_attempts: challenge.max_attempts,
            created_at_ms: millis(challenge.created_at),
            expires_at_ms: millis(challenge.expires_at),
            purpose: challenge.purpose.as_str().to_owned(),
            reference: challenge.reference.as_ref().map(|r| r.as_str().to_owned()),
            profile: Some(challenge.profile.as_str().to_owned()),
            transaction: challenge.transaction.clone(),
            channel: challenge.channel,
            masked_to: challenge.masked_to.clone(),
            sealed_to: challenge.sealed_to.clone(),
            purge_at: purge_seconds(challenge.expires_at + CODE_RETENTION),
            destination: Some(destination_key(&challenge.destination)),
            guess_budget: Some(challenge.guess_budget.into()),
        }
    }

    fn code_hash(&self) -> Result<CodeHash, StoreError> {
        decode_hash(&self.code_hash)
    }

    fn is_consumed(&self) -> bool {
        self.last_attempt_hash.as_deref() == Some(self.code_hash.as_str())
    }

    fn approved(&self) -> Result<ApprovedChallenge, StoreError> {
        Ok(ApprovedChallenge {
            purpose: Purpose::parse(&self.purpose).map_err(|_| corrupt("purpose"))?,
            reference: self
                .reference
                .as_deref()
                .map(Reference::parse)
                .transpose()
                .map_err(|_| corrupt("reference"))?,
            profile: match &self.profile {
                Some(name) => ProfileName::parse(name).map_err(|_| corrupt("profile"))?,
                None => ProfileName::default(),
            },
            transaction: self.transaction.clone(),
            channel: self.channel,
            masked_to: self.masked_to.clone(),
            sealed_to: self.sealed_to.clone(),
        })
    }

    /// What the verify that wrote `candidate` into this item found, `attempts` being the count of
    /// attempts after it: an approval, or one more wrong attempt (its lock is decided after).
    fn outcome_of_attempt(
        &self,
        candidate: &CodeHash,
        attempts: u32,
    ) -> Result<VerifyOutcome, StoreError> {
        Ok(if self.code_hash()? == *candidate {
            VerifyOutcome::Approved(Box::new(self.approved()?))
        } else {
            VerifyOutcome::Incorrect {
                attempts_remaining: self.max_attempts.saturating_sub(attempts),
                lock: None,
            }
        })
    }

    /// Why the verify condition refused this (old) item, whose mirrored lock on the asking network
    /// is `locked_until_ms`. Checked in the memory store's order.
    fn refusal(
        &self,
        now_ms: i64,
        locked_until_ms: Option<i64>,
    ) -> Result<VerifyOutcome, StoreError> {
        Ok(if self.is_consumed() {
            VerifyOutcome::Consumed
        } else if self.state != PENDING || now_ms >= self.expires_at_ms {
            VerifyOutcome::Expired
        } else if self.attempts >= self.max_attempts {
            VerifyOutcome::Locked
        } else if let Some(until) = locked_until_ms {
            VerifyOutcome::LockedOut {
                until: from_millis(until)?,
            }
        } else {
            return Err(StoreError::Failed(anyhow!(
                "verify condition failed on an item that passes every check"
            )));
        })
    }
}

fn decode_hash(text: &str) -> Result<CodeHash, StoreError> {
    let bytes = HEXLOWER
        .decode(text.as_bytes())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| corrupt("code hash"))?;
    Ok(CodeHash::from_bytes(bytes))
}

/// A send's idempotency record (see the module comment).
#[derive(Debug, Serialize, Deserialize)]
struct IdempotencyItem {
    pk: String,
    fingerprint: String,
    holder: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply: Option<String>,
    until_ms: i64,
    purge_at: i64,
}

fn idempotency_key(send: &IdempotentSend) -> String {
    format!("idem#{}", send.slot)
}

/// The sends to one destination, keyed by its pseudonym, and its guess record (see
/// [`super::guesses`]).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct DestinationItem {
    pub(super) pk: String,
    /// Incremented by every send and every wrong code; a whole-item write is conditional on the
    /// version it read.
    pub(super) version: u64,
    /// Times (epoch ms) of the sends still inside the window, oldest first.
    pub(super) sends_ms: Vec<i64>,
    /// Per purpose: the last send and its code, while either still matters.
    pub(super) last_sends: BTreeMap<String, LastSend>,
    pub(super) purge_at: i64,
    // The guess record, by network pseudonym and by hour. Always written, empty or not, so a
    // wrong code can add to them with one `UpdateItem`.
    #[serde(default)]
    pub(super) guess_failures: BTreeMap<String, u32>,
    #[serde(default)]
    pub(super) guess_last_failure_ms: BTreeMap<String, i64>,
    #[serde(default)]
    pub(super) guess_lockouts: BTreeMap<String, u32>,
    #[serde(default)]
    pub(super) guess_locks: BTreeMap<String, i64>,
    #[serde(default)]
    pub(super) guess_hourly: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) guess_locked_until_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LastSend {
    at_ms: i64,
    pub(super) id: String,
    pub(super) expires_at_ms: i64,
}

impl DestinationItem {
    /// The cooldown and cap decision on what this item holds.
    fn admit(
        &self,
        purpose: &Purpose,
        policy: SendPolicy,
        now: OffsetDateTime,
    ) -> Result<SendAdmission, StoreError> {
        let times = self
            .sends_ms
            .iter()
            .map(|ms| from_millis(*ms))
            .collect::<Result<Vec<_>, _>>()?;
        let last_for_purpose = self
            .last_sends
            .get(purpose.as_str())
            .map(|last| from_millis(last.at_ms))
            .transpose()?;
        Ok(policy.admit(&times, last_for_purpose, now))
    }

    /// Records an admitted send; returns the code it replaces while that could still be used.
    fn record(
        &mut self,
        challenge: &NewChallenge,
        policy: SendPolicy,
    ) -> Result<Option<LastSend>, StoreError> {
        let now_ms = millis(challenge.created_at);
        let cooldown_ms = policy.resend_cooldown.as_millis() as i64;
        self.version += 1;
        self.sends_ms.push(now_ms);
        let replaced = self.last_sends.insert(
            challenge.purpose.as_str().to_owned(),
            LastSend {
                at_ms: now_ms,
                id: challenge.id.as_str().to_owned(),
                expires_at_ms: millis(challenge.expires_at),
            },
        );
        let keep_until = self
            .last_sends
            .values()
            .map(|last| last.expires_at_ms.max(last.at_ms + cooldown_ms))
            .chain([millis(challenge.created_at + policy.window)])
            .chain(self.guesses()?.keep_until().map(millis))
            .max()
            .unwrap_or(now_ms);
        self.purge_at = purge_seconds(from_millis(keep_until)?);
        Ok(replaced.filter(|old| old.expires_at_ms > now_ms))
    }

    /// Drops what no rule needs any more: sends outside the window, last sends whose cooldown is over
    /// and whose code has expired.
    fn prune(&mut self, now: OffsetDateTime, policy: SendPolicy) -> Result<(), StoreError> {
        let mut guesses = self.guesses()?;
        guesses.prune(now);
        self.set_guesses(&guesses);
        let now_ms = millis(now);
        let window_start = millis(now - policy.window);
        let cooldown_ms = policy.resend_cooldown.as_millis() as i64;
        self.sends_ms.retain(|t| *t > window_start);
        self.last_sends
            .retain(|_, last| last.at_ms + cooldown_ms > now_ms || last.expires_at_ms > now_ms);
        Ok(())
    }
}

/// A DynamoDB failure, as a store error: unavailable (retry later) or opaque. SDK errors carry no
/// item values of ours.
pub(super) fn failed<E>(
    action: &'static str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e| {
        let unavailable = super::is_unavailable(&e);
        let e = anyhow::Error::new(e).context(action);
        if unavailable {
            StoreError::Unavailable(e)
        } else {
            StoreError::Failed(e)
        }
    }
}

impl ChallengeStore for DynamoStore {
    async fn begin(
        &self,
        challenge: NewChallenge,
        policy: SendPolicy,
        quotas: &[Quota],
    ) -> Result<SendAdmission, StoreError> {
        let now = challenge.created_at;
        let dest_pk = destination_key(&challenge.destination);
        let mut code_item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(CodeItem::new(&challenge)).context("mapping the code item")?;
        let mut withdraw_replaced = true;
        for attempt in 0..SEND_ATTEMPTS {
            if attempt > 0 {
                // Lost a race: back off exponentially (10 ms, 20 ms, … up to 320 ms), with full
                // jitter drawn from the (random) challenge id so the racing sends spread out.
                let ceiling = 10u64 << (attempt - 1).min(5);
                let jitter = u64::from(challenge.id.as_str().as_bytes()[attempt % 32]);
                tokio::time::sleep(Duration::from_millis(
                    ceiling / 2 + jitter % (ceiling / 2 + 1),
                ))
                .await;
            }
            let mut dest = self.read_sends(&dest_pk).await?;
            let read_version = dest.version;
            dest.prune(now, policy)?;
            let guesses = dest.guesses()?;
            if let Some(until) = guesses.locked_until(&challenge.network, now) {
                return Ok(SendAdmission::LockedOut { until });
            }
            super::guesses::mirror_onto_code(&mut code_item, &guesses, now);
            let admission = dest.admit(&challenge.purpose, policy, now)?;
            if !matches!(admission, SendAdmission::Admitted { .. }) {
                return Ok(admission);
            }
            if let Some(never) = quotas.iter().find(|q| !q.fits(0)) {
                return Ok(over(never));
            }
            let replaced = dest.record(&challenge, policy)?;

            let mut writes = vec![
                put_versioned(&self.table, &dest, read_version)?,
                put_new(&self.table, code_item.clone())?,
            ];
            if let Some(old) = replaced.filter(|_| withdraw_replaced) {
                writes.push(withdraw_in_transaction(&self.table, &old.id)?);
            }
            let first_quota = writes.len();
            for quota in quotas {
                writes.push(charge_in_transaction(&self.table, quota)?);
            }
            let Err(error) = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await
            else {
                return Ok(admission);
            };
            let failed_checks = failed_conditions(&error);
            if let Some(full) = failed_checks
                .iter()
                .find_map(|position| quotas.get(position.checked_sub(first_quota)?))
            {
                return Ok(over(full));
            }
            if failed_checks.contains(&0) || is_transaction_conflict(&error) {
                // A concurrent send to this destination won; decide again on what it wrote.
                continue;
            }
            if failed_checks == [2] {
                // The replaced code's item is gone (deleted by hand): nothing to withdraw.
                withdraw_replaced = false;
                continue;
            }
            return Err(failed("recording the send")(error));
        }
        // Sends to this destination are racing faster than they can be decided: refuse this one as
        // too soon after another, which it is, rather than fail.
        tracing::warn!("refused: concurrent sends to one destination kept winning the race");
        Ok(SendAdmission::CoolingDown {
            retry_at: now + CONTENDED_RETRY,
        })
    }

    async fn claim_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<IdempotencyClaim, StoreError> {
        let item = IdempotencyItem {
            pk: idempotency_key(send),
            fingerprint: send.fingerprint.clone(),
            holder: holder.as_str().to_owned(),
            reply: None,
            until_ms: millis(lease_until),
            purge_at: purge_seconds(lease_until),
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(
                serde_dynamo::to_item(item).context("mapping the idempotency item")?,
            ))
            // Free, or its lease or record is over (TTL deletes lazily, so time is checked here).
            .condition_expression("attribute_not_exists(#pk) OR #until <= :now")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#until", "until_ms")
            .expression_attribute_values(":now", AttributeValue::N(millis(now).to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match result {
            Ok(_) => return Ok(IdempotencyClaim::Claimed),
            Err(error) => error,
        };
        let old = match error.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(e)) => e.item.clone(),
            _ => return Err(failed("claiming an idempotency key")(error)),
        };
        let old: IdempotencyItem =
            serde_dynamo::from_item(old.ok_or_else(|| corrupt("no idempotency item returned"))?)
                .context("mapping the idempotency item")?;
        Ok(if old.fingerprint != send.fingerprint {
            IdempotencyClaim::Mismatch
        } else if let Some(reply) = old.reply {
            IdempotencyClaim::Completed { reply }
        } else {
            IdempotencyClaim::InProgress {
                retry_at: from_millis(old.until_ms)?,
            }
        })
    }

    async fn settle_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        reply: Option<&str>,
        keep_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        const HELD: &str = "#holder = :holder AND attribute_not_exists(#reply)";
        let pk = idempotency_key(send);
        let holder = AttributeValue::S(holder.as_str().to_owned());
        // A condition failure means the key is no longer ours to settle (another send took it over).
        match reply {
            Some(reply) => self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk)))
                .update_expression("SET #reply = :reply, #until = :until, #purge = :purge")
                .condition_expression(HELD)
                .expression_attribute_names("#holder", "holder")
                .expression_attribute_names("#reply", "reply")
                .expression_attribute_names("#until", "until_ms")
                .expression_attribute_names("#purge", TTL_ATTRIBUTE)
                .expression_attribute_values(":holder", holder)
                .expression_attribute_values(":reply", AttributeValue::S(reply.to_owned()))
                .expression_attribute_values(
                    ":until",
                    AttributeValue::N(millis(keep_until).to_string()),
                )
                .expression_attribute_values(
                    ":purge",
                    AttributeValue::N(purge_seconds(keep_until).to_string()),
                )
                .send()
                .await
                .map(drop)
                .or_else(|e| {
                    if is_condition_failure(&e) {
                        Ok(())
                    } else {
                        Err(failed("keeping an idempotent send's reply")(e))
                    }
                }),
            None => self
                .client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(pk)))
                .condition_expression(HELD)
                .expression_attribute_names("#holder", "holder")
                .expression_attribute_names("#reply", "reply")
                .expression_attribute_values(":holder", holder)
                .send()
                .await
                .map(drop)
                .or_else(|e| {
                    let lost = e
                        .as_service_error()
                        .is_some_and(DeleteItemError::is_conditional_check_failed_exception);
                    if lost {
                        Ok(())
                    } else {
                        Err(failed("releasing an idempotency key")(e))
                    }
                }),
        }
    }

    async fn withdraw(&self, id: &ChallengeId, _now: OffsetDateTime) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(code_key(id.as_str()))))
            .update_expression("SET #state = :withdrawn")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":withdrawn", AttributeValue::S(WITHDRAWN.to_owned()))
            .expression_attribute_values(":pending", AttributeValue::S(PENDING.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already consumed, withdrawn or gone: nothing left to make unusable.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(failed("withdrawing a code")(e)),
        }
    }

    /// One conditional `UpdateItem`. It also writes a fresh random attempt id, and refuses an item
    /// that already carries it: when a reply is lost and the SDK retries the update after the first
    /// try took effect, the retry is refused and the old item it gets back names this very attempt,
    /// so the first try's outcome is reported (approved stays approved, a wrong code counts once)
    /// rather than `consumed`. If no reply ever arrives the outcome is unknown, and the caller gets
    /// an error, never an approval.
    async fn verify(
        &self,
        id: &ChallengeId,
        candidate: &CodeHash,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Result<VerifyOutcome, StoreError> {
        let now_ms = millis(now);
        let attempt_id = ChallengeId::generate(&OsRandomness);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(code_key(id.as_str()))))
            .condition_expression(
                "attribute_exists(#pk) AND #state = :pending AND #expires > :now \
                 AND #attempts < #max AND (attribute_not_exists(#last) OR #last <> #hash) \
                 AND (attribute_not_exists(#attempt_id) OR #attempt_id <> :attempt_id) \
                 AND (attribute_not_exists(#network_lock) OR #network_lock <= :now) \
                 AND (attribute_not_exists(#everyone_lock) OR #everyone_lock <= :now)",
            )
            .update_expression(
                "SET #last = :candidate, #attempts = #attempts + :one, #attempt_id = :attempt_id \
                 ADD #guessed_from :network",
            )
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#expires", "expires_at_ms")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_names("#max", "max_attempts")
            .expression_attribute_names("#last", "last_attempt_hash")
            .expression_attribute_names("#hash", "code_hash")
            .expression_attribute_names("#attempt_id", "last_attempt_id")
            .expression_attribute_names(
                "#network_lock",
                super::guesses::network_lock_attribute(network),
            )
            .expression_attribute_names("#everyone_lock", super::guesses::DESTINATION_LOCK)
            .expression_attribute_names("#guessed_from", super::guesses::GUESSED_FROM)
            .expression_attribute_values(":pending", AttributeValue::S(PENDING.to_owned()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .expression_attribute_values(":candidate", AttributeValue::S(hex(candidate)))
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(
                ":attempt_id",
                AttributeValue::S(attempt_id.as_str().to_owned()),
            )
            .expression_attribute_values(
                ":network",
                AttributeValue::Ss(vec![network.as_str().to_owned()]),
            )
            // The old item: whether this network had tried the code (or had failures counted)
            // before decides whether an approval resets its count.
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let (code, outcome) = match result {
            Ok(output) => {
                let old = output
                    .attributes
                    .ok_or_else(|| corrupt("no attributes returned"))?;
                let tried_before = super::guesses::has_guessed(&old, network);
                let code: CodeItem =
                    serde_dynamo::from_item(old).context("mapping the code item")?;
                let outcome = code.outcome_of_attempt(candidate, code.attempts + 1)?;
                if tried_before && matches!(outcome, VerifyOutcome::Approved(_)) {
                    if let Some(dest_pk) = &code.destination {
                        self.reset_guesses(dest_pk, network).await?;
                    }
                    return Ok(outcome);
                }
                (code, outcome)
            }
            Err(error) if is_condition_failure(&error) => {
                let old = match error.into_service_error() {
                    UpdateItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                };
                let Some(old) = old else {
                    return Ok(VerifyOutcome::NotFound);
                };
                let locked_until = super::guesses::mirrored_lock(&old, network, now_ms);
                let code: CodeItem =
                    serde_dynamo::from_item(old).context("mapping the code item")?;
                if code.last_attempt_id.as_deref() != Some(attempt_id.as_str()) {
                    return code.refusal(now_ms, locked_until);
                }
                tracing::warn!(
                    "a retried verify found its own earlier write; reporting that outcome"
                );
                let outcome = code.outcome_of_attempt(candidate, code.attempts)?;
                (code, outcome)
            }
            Err(error) => return Err(failed("verifying a code")(error)),
        };
        let VerifyOutcome::Incorrect {
            attempts_remaining, ..
        } = outcome
        else {
            return Ok(outcome);
        };
        // A wrong code: counted against the destination's guess budget too.
        let lock = match (&code.destination, code.guess_budget) {
            (Some(dest_pk), Some(budget)) => {
                self.count_wrong_guess(dest_pk, network, &budget.budget()?, now)
                    .await?
            }
            // A code stored before the guess budget: its own attempt cap still applies.
            _ => None,
        };
        Ok(VerifyOutcome::Incorrect {
            attempts_remaining,
            lock,
        })
    }
}

pub(super) fn is_condition_failure<R>(error: &SdkError<UpdateItemError, R>) -> bool {
    error
        .as_service_error()
        .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
}

/// The destination item's write, conditional on the version read (or on there being none).
pub(super) fn put_versioned(
    table: &str,
    dest: &DestinationItem,
    read_version: u64,
) -> Result<TransactWriteItem, StoreError> {
    let item = serde_dynamo::to_item(dest).context("mapping the sends item")?;
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = if read_version == 0 {
        put.condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
    } else {
        put.condition_expression("#version = :read")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":read", AttributeValue::N(read_version.to_string()))
    };
    Ok(TransactWriteItem::builder()
        .put(put.build().context("building the sends put")?)
        .build())
}

/// The put of a new item, refused if one with its key exists.
fn put_new(
    table: &str,
    item: HashMap<String, AttributeValue>,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .build()
        .context("building the code put")?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The withdrawal of a replaced code, inside the send's transaction.
fn withdraw_in_transaction(table: &str, id: &str) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(code_key(id))))
        .update_expression("SET #state = :withdrawn")
        .condition_expression("attribute_exists(#pk)")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":withdrawn", AttributeValue::S(WITHDRAWN.to_owned()))
        .build()
        .context("building the withdrawal of the replaced code")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The key of a quota counter's item.
fn counter_key(counter: &str) -> String {
    format!("rate#{counter}")
}

/// A quota charge inside the send's transaction: adds the amount unless that takes the counter past
/// its limit. The item is purged an hour after its window ends.
fn charge_in_transaction(table: &str, quota: &Quota) -> Result<TransactWriteItem, StoreError> {
    let room = quota.limit.saturating_sub(quota.amount);
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(counter_key(&quota.counter))))
        .update_expression("SET #purge = :purge ADD #used :amount")
        .condition_expression("attribute_not_exists(#used) OR #used <= :room")
        .expression_attribute_names("#used", "used")
        .expression_attribute_names("#purge", TTL_ATTRIBUTE)
        .expression_attribute_values(":amount", AttributeValue::N(quota.amount.to_string()))
        .expression_attribute_values(":room", AttributeValue::N(room.to_string()))
        .expression_attribute_values(
            ":purge",
            AttributeValue::N(
                purge_seconds(quota.resets_at + Duration::from_secs(3600)).to_string(),
            ),
        )
        .build()
        .context("building a quota charge")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn over(quota: &Quota) -> SendAdmission {
    SendAdmission::OverQuota {
        kind: quota.kind,
        retry_at: quota.resets_at,
    }
}

/// Whether DynamoDB cancelled the transaction because another one was writing the same items.
pub(super) fn is_transaction_conflict<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .any(|reason| reason.code() == Some("TransactionConflict")),
        _ => false,
    }
}

/// Which writes of a cancelled transaction failed their condition, by position.
pub(super) fn failed_conditions<R>(error: &SdkError<TransactWriteItemsError, R>) -> Vec<usize> {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .enumerate()
            .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
            .map(|(position, _)| position)
            .collect(),
        _ => Vec::new(),
    }
}

/// Creates the table (on-demand, TTL on [`TTL_ATTRIBUTE`]) unless it exists; for otp-local and tests.
/// In AWS the SAM template creates it.
pub async fn create_table_if_missing(client: &Client, table: &str) -> anyhow::Result<()> {
    let exists = match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(e) => return Err(anyhow::Error::new(e).context("describing the table")),
    };
    if !exists {
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PARTITION_KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PARTITION_KEY)
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await
            .context("creating the table")?;
    }
    for _ in 0..100 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .context("describing the table")?;
        if described
            .table
            .and_then(|t| t.table_status)
            .is_some_and(|s| s == TableStatus::Active)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .context("describing the table's TTL")?;
    let enabled = ttl.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(TTL_ATTRIBUTE)
            && d.time_to_live_status().is_some_and(|s| {
                matches!(s, TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            })
    });
    if !enabled {
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()?,
            )
            .send()
            .await
            .context("enabling TTL")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(state: &str, attempts: u32, consumed: bool) -> CodeItem {
        let hash = "ab".repeat(32);
        CodeItem {
            pk: "code#x".into(),
            code_hash: hash.clone(),
            last_attempt_hash: Some(if consumed { hash } else { "cd".repeat(32) }),
            last_attempt_id: Some("an earlier verify".into()),
            state: state.into(),
            attempts,
            max_attempts: 5,
            created_at_ms: 1_000,
            expires_at_ms: 10_000,
            purpose: "login".into(),
            reference: Some("order-1".into()),
            profile: None,
            transaction: None,
            channel: Channel::Sms,
            masked_to: "+44•••••••456".into(),
            sealed_to: SealedSecret {
                key_id: "k".into(),
                nonce: "n".into(),
                ciphertext: "c".into(),
            },
            purge_at: 100,
            destination: None,
            guess_budget: None,
        }
    }

    #[test]
    fn a_refused_verify_is_explained_by_the_old_item_in_the_memory_stores_order() {
        let outcome = |item: CodeItem, now_ms| item.refusal(now_ms, None).unwrap();
        // Consumed first, whatever else holds.
        assert_eq!(
            outcome(item(PENDING, 5, true), 20_000),
            VerifyOutcome::Consumed
        );
        assert_eq!(
            outcome(item(WITHDRAWN, 1, true), 1),
            VerifyOutcome::Consumed
        );
        // Withdrawn or replaced reads as expired, as does a pending code past its expiry.
        assert_eq!(
            outcome(item(WITHDRAWN, 0, false), 1),
            VerifyOutcome::Expired
        );
        assert_eq!(
            outcome(item(PENDING, 5, false), 10_000),
            VerifyOutcome::Expired
        );
        assert_eq!(
            outcome(item(PENDING, 5, false), 9_999),
            VerifyOutcome::Locked
        );
        // Then a guess lock on the asking network (its own or everyone's), until it ends.
        assert_eq!(
            item(PENDING, 4, false)
                .refusal(9_999, Some(12_000))
                .unwrap(),
            VerifyOutcome::LockedOut {
                until: from_millis(12_000).unwrap()
            }
        );
        assert_eq!(
            item(PENDING, 5, false)
                .refusal(9_999, Some(12_000))
                .unwrap(),
            VerifyOutcome::Locked
        );
        // An item every check passes cannot have been refused: that is an error, not a guess.
        assert!(item(PENDING, 4, false).refusal(9_999, None).is_err());
    }

    #[test]
    fn an_approved_item_gives_back_what_the_send_recorded() {
        let approved = item(PENDING, 1, true).approved().unwrap();
        assert_eq!(approved.purpose.as_str(), "login");
        assert_eq!(approved.reference.unwrap().as_str(), "order-1");
        assert_eq!(approved.channel, Channel::Sms);
        assert_eq!(approved.masked_to, "+44•••••••456");
        let mut bad = item(PENDING, 1, true);
        bad.code_hash = "zz".into();
        assert!(bad.code_hash().is_err());
    }

    #[test]
    fn pruning_keeps_what_the_cooldown_cap_or_a_pending_code_still_needs() {
        let policy = SendPolicy {
            resend_cooldown: Duration::from_secs(30),
            max_sends: 5,
            window: Duration::from_secs(900),
        };
        let now = OffsetDateTime::from_unix_timestamp(2_000_000).unwrap();
        let ms = |seconds_ago: i64| millis(now) - seconds_ago * 1000;
        let last = |at: i64, expires: i64| LastSend {
            at_ms: ms(at),
            id: "x".into(),
            expires_at_ms: ms(expires),
        };
        let mut dest = DestinationItem {
            sends_ms: vec![ms(1000), ms(900), ms(899), ms(10)],
            last_sends: BTreeMap::from([
                ("cooling".into(), last(10, 1000)),
                ("pending".into(), last(1000, -5)),
                ("done".into(), last(1000, 700)),
            ]),
            ..DestinationItem::default()
        };
        dest.prune(now, policy).unwrap();
        assert_eq!(dest.sends_ms, vec![ms(899), ms(10)]);
        assert_eq!(
            dest.last_sends.keys().collect::<Vec<_>>(),
            ["cooling", "pending"]
        );
    }

    #[test]
    fn times_round_trip_through_epoch_milliseconds_and_ttl_rounds_up() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(millis(t), 1_700_000_000_123);
        assert_eq!(
            from_millis(millis(t)).unwrap(),
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_000_000).unwrap()
        );
        assert_eq!(purge_seconds(t), 1_700_000_001);
        assert_eq!(
            purge_seconds(OffsetDateTime::from_unix_timestamp(5).unwrap()),
            5
        );
    }
}

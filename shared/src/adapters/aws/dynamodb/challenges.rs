//! The challenge store: sends, verifies and withdrawals.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use time::OffsetDateTime;

use super::code_item::*;
use super::codec::*;
use super::counters::*;
use super::destination_item::*;
use super::errors::*;
use super::store::*;
use crate::adapters::OsRandomness;
use crate::crypto::{CodeHash, IdempotentSend};
use crate::domain::{ChallengeId, NetworkKey, Plan, Quota, Room};
use crate::ports::{
    ChallengeStore, IdempotencyClaim, NewChallenge, SendAdmission, SendPolicy, StoreError,
    VerifyOutcome,
};

/// How often a send decides again after losing a race with a concurrent send to the same destination,
/// and how long a send that lost every time is told to wait.
pub(super) const SEND_ATTEMPTS: usize = 8;
pub(super) const CONTENDED_RETRY: Duration = Duration::from_secs(1);

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
        // What is known of each quota's shards: nothing until a charge is refused.
        let mut rooms: Vec<Vec<Room>> = quotas
            .iter()
            .map(|q| vec![Room::Unknown; q.shard_counters().len()])
            .collect();
        let mut raced = false;
        // The destination as last read, while it is known to be current (see below).
        let mut current_dest = None;
        for attempt in 0..SEND_ATTEMPTS {
            if std::mem::take(&mut raced) {
                // Lost a race: back off exponentially (10 ms, 20 ms, … up to 320 ms), with full
                // jitter drawn from the (random) challenge id so the racing sends spread out.
                let ceiling = 10u64 << (attempt - 1).min(5);
                let jitter = u64::from(challenge.id.as_str().as_bytes()[attempt % 32]);
                tokio::time::sleep(Duration::from_millis(
                    ceiling / 2 + jitter % (ceiling / 2 + 1),
                ))
                .await;
            }
            let mut dest = match current_dest.take() {
                Some(dest) => dest,
                None => self.read_sends(&dest_pk).await?,
            };
            let as_read = dest.clone();
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
            // Where each charge goes (the domain's rule), on what is known of the shards.
            let mut charges = Vec::with_capacity(quotas.len());
            for (quota, known) in quotas.iter().zip(rooms.iter_mut()) {
                let first = quota.first_shard(challenge.id.as_str());
                let mut plan = quota.plan(first, known);
                if plan == Plan::ReadShards {
                    *known = self.read_rooms(quota).await?;
                    plan = quota.plan(first, known);
                }
                match plan {
                    Plan::Charge(parts) => charges.extend(parts.into_iter().map(|c| (quota, c))),
                    Plan::Full | Plan::ReadShards => return Ok(over(quota)),
                }
            }
            let replaced = dest.record(&challenge, policy)?;

            let mut writes = vec![
                put_versioned(&self.table, &dest, read_version)?,
                put_new(&self.table, code_item.clone())?,
            ];
            if let Some(old) = replaced.filter(|_| withdraw_replaced) {
                writes.push(withdraw_in_transaction(&self.table, &old.id)?);
            }
            let first_charge = writes.len();
            for (quota, charge) in &charges {
                writes.push(charge_in_transaction(&self.table, charge, quota.resets_at)?);
            }
            let Err(error) = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                // The SDK's own retry of this very decision (its reply lost after it applied) then
                // succeeds without applying it twice, rather than meeting its own write and being
                // refused as too soon; a decision taken again is another token.
                .client_request_token(format!("{}-{attempt}", challenge.id.as_str()))
                .send()
                .await
            else {
                return Ok(admission);
            };
            let failed_checks = failed_conditions(&error);
            // A shard had less room than its charge: that counter is filling up. Read all its
            // shards (one request) and decide again on their exact standing, at once.
            let mut filling: Vec<usize> = Vec::new();
            for position in &failed_checks {
                let Some(index) = position
                    .checked_sub(first_charge)
                    .and_then(|i| charges.get(i))
                    .map(|(quota, _)| quota_index(quotas, quota))
                else {
                    continue;
                };
                if !filling.contains(&index) {
                    filling.push(index);
                }
            }
            if !filling.is_empty() {
                for index in filling {
                    rooms[index] = self.read_rooms(&quotas[index]).await?;
                }
                // Its own condition held and nothing else was writing it, so the destination is
                // as read: no need to read it again.
                if !failed_checks.contains(&0) && !is_transaction_conflict(&error) {
                    current_dest = Some(as_read);
                }
                continue;
            }
            if failed_checks.contains(&0) || is_transaction_conflict(&error) {
                // A concurrent send to this destination (or to a shard) won; decide again on
                // what it wrote.
                raced = true;
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
        self.claim_idempotency_record(send, holder, now, lease_until)
            .await
    }

    async fn settle_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        reply: Option<&str>,
        keep_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.settle_idempotency_record(send, holder, reply, keep_until)
            .await
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

    /// One `UpdateItem`, only while the code's item exists: a code purged meanwhile gets no new
    /// item of one attribute.
    async fn note_message(&self, id: &ChallengeId, message_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(code_key(id.as_str()))))
            .update_expression("SET #message_id = :message_id")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#message_id", "message_id")
            .expression_attribute_values(":message_id", AttributeValue::S(message_id.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(failed("keeping the message id")(e)),
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

/// The put of a new item, refused if one with its key exists.
pub(super) fn put_new(
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
pub(super) fn withdraw_in_transaction(
    table: &str,
    id: &str,
) -> Result<TransactWriteItem, StoreError> {
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

/// Which of `quotas` `quota` is (the charges borrow them).
fn quota_index(quotas: &[Quota], quota: &Quota) -> usize {
    quotas
        .iter()
        .position(|q| std::ptr::eq(q, quota))
        .expect("a charge of one of the quotas")
}

pub(super) fn over(quota: &Quota) -> SendAdmission {
    SendAdmission::OverQuota {
        kind: quota.kind,
        retry_at: quota.resets_at,
    }
}

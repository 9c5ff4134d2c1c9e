//! Authenticator enrolments on the DynamoDB table, one item per user: `totp#<user id>`.
//!
//! Every change is one conditional write on that item. A write names the enrolment it was decided
//! on (`enrollment_id`), so nothing meant for a replaced enrolment lands on its successor. The lock
//! is [`LockPolicy`]'s: `failures` in a row (and the time of the last), `lockouts` since the last
//! success and `locked_until_ms`, the end of the latest lock; a user is locked while it is ahead.
//! The wrong code that starts a lock is the one change that takes two writes: the end depends on
//! `lockouts`, so the policy computes it from the item the first, refused, write hands back, and the
//! second is conditional on the count and `lockouts` it was computed from. (An item written before
//! locks escalated has no lock end: `failures` at the limit lock it for the first lock's length.)
//! Recovery codes are a string set of keyed hashes; using one is a `DELETE` from the set
//! conditional on `contains`.
//!
//! A pending enrolment carries `purge_at` (its confirmation deadline plus a day) for TTL; an active
//! one has none and stays until deleted.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::dynamodb::{
    DynamoStore, PARTITION_KEY, failed, from_millis, key, millis, purge_seconds,
};
use crate::adapters::OsRandomness;
use crate::domain::{ChallengeId, UserId};
use crate::hashing::CodeHash;
use crate::ports::{
    EnrollAdmission, Enrollment, FailureOutcome, LockPolicy, RecoveryOutcome, StepOutcome,
    StoreError, TotpStore,
};
use crate::totp::{SealedSecret, TotpParams};

/// How long a lapsed pending enrolment's item is kept before TTL may remove it.
const PENDING_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

const RECOVERY: &str = "recovery";

fn totp_key(user: &UserId) -> String {
    format!("totp#{}", user.as_str())
}

/// The item, but for its recovery code set, which serde_dynamo would write as a list.
#[derive(Debug, Serialize, Deserialize)]
struct EnrollmentItem {
    pk: String,
    enrollment_id: String,
    sealed_secret: SealedSecret,
    params: TotpParams,
    created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending_until_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_step: Option<u64>,
    #[serde(default)]
    failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_failure_ms: Option<i64>,
    /// Locks since the last success; absent means none.
    #[serde(default, skip_serializing_if = "is_zero")]
    lockouts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locked_until_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purge_at: Option<i64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn to_item(e: &Enrollment) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let item = EnrollmentItem {
        pk: totp_key(&e.user_id),
        enrollment_id: e.enrollment_id.clone(),
        sealed_secret: e.sealed_secret.clone(),
        params: e.params,
        created_at_ms: millis(e.created_at),
        pending_until_ms: e.pending_until.map(millis),
        last_used_ms: e.last_used_at.map(millis),
        last_step: e.last_step,
        failures: e.failures,
        last_failure_ms: e.last_failure_at.map(millis),
        lockouts: e.lockouts,
        locked_until_ms: e.locked_until.map(millis),
        purge_at: e
            .pending_until
            .map(|until| purge_seconds(until + PENDING_RETENTION)),
    };
    let mut map: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(item).context("mapping the enrolment item")?;
    if !e.recovery_hashes.is_empty() {
        let hashes = e
            .recovery_hashes
            .iter()
            .map(|h| HEXLOWER.encode(h.as_bytes()))
            .collect();
        map.insert(RECOVERY.to_owned(), AttributeValue::Ss(hashes));
    }
    Ok(map)
}

fn from_item(
    user: &UserId,
    mut map: HashMap<String, AttributeValue>,
) -> Result<Enrollment, StoreError> {
    let recovery = match map.remove(RECOVERY) {
        Some(AttributeValue::Ss(hashes)) => hashes,
        _ => Vec::new(),
    };
    let item: EnrollmentItem =
        serde_dynamo::from_item(map).context("mapping the enrolment item")?;
    let recovery_hashes = recovery
        .iter()
        .map(|hex| {
            HEXLOWER
                .decode(hex.as_bytes())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(CodeHash::from_bytes)
                .ok_or_else(|| {
                    StoreError::Failed(anyhow::anyhow!("a stored recovery hash is malformed"))
                })
        })
        .collect::<Result<_, _>>()?;
    let time = |ms: Option<i64>| ms.map(from_millis).transpose();
    Ok(Enrollment {
        user_id: user.clone(),
        enrollment_id: item.enrollment_id,
        sealed_secret: item.sealed_secret,
        params: item.params,
        created_at: from_millis(item.created_at_ms)?,
        pending_until: time(item.pending_until_ms)?,
        last_used_at: time(item.last_used_ms)?,
        last_step: item.last_step,
        failures: item.failures,
        last_failure_at: time(item.last_failure_ms)?,
        lockouts: item.lockouts,
        locked_until: time(item.locked_until_ms)?,
        recovery_hashes,
    })
}

/// The part of every TOTP write's condition that says the enrolment is still the one decided on:
/// present, the same enrolment, and not a lapsed pending one.
const LIVE: &str = "attribute_exists(#pk) AND enrollment_id = :eid \
                    AND (attribute_not_exists(pending_until_ms) OR pending_until_ms > :now)";

/// ... and the user is not locked out ([`LockPolicy::locked_until`]): the latest lock has ended, and
/// an item from before locks escalated is not at the limit within the first lock's length.
const UNLOCKED: &str = "(attribute_not_exists(locked_until_ms) OR locked_until_ms <= :now) \
                        AND (failures < :max OR attribute_not_exists(last_failure_ms) \
                        OR last_failure_ms <= :lock_start)";

/// What a success clears: the count, the escalation, the lock.
const RESET: &str = "last_failure_ms, lockouts, locked_until_ms";

/// Rounds of [`TotpStore::count_failure`]'s compare-and-set before it gives up: each refusal means
/// another request changed the count meanwhile.
const FAILURE_ROUNDS: usize = 8;

/// The attribute naming the latest write on an enrolment (see [`DynamoStore::update_enrollment`]).
const LAST_WRITE_ID: &str = "last_write_id";

impl DynamoStore {
    /// A conditional update of a user's enrolment item. Refused, it hands back the old item (or
    /// `None` if there was none) for the caller to say why.
    ///
    /// Each update also writes a fresh random write id, and refuses an item already carrying it: when
    /// a reply is lost and the SDK retries an update that did land, the retry is refused with the
    /// item as that update left it, which is the update's own result (a TOTP code is not then
    /// reported as replayed, nor a recovery code as unknown).
    async fn update_enrollment(
        &self,
        user: &UserId,
        condition: String,
        update: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Result<UpdateItemOutput, Option<Enrollment>>, StoreError> {
        debug_assert!(update.contains("SET "), "{update}");
        let write_id = AttributeValue::S(ChallengeId::generate(&OsRandomness).as_str().to_owned());
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(totp_key(user))))
            .condition_expression(format!(
                "({condition}) AND (attribute_not_exists(#write) OR #write <> :write)"
            ))
            // Every update here has a SET clause; the write id joins it (an expression has one).
            .update_expression(update.replacen("SET ", "SET #write = :write, ", 1))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#write", LAST_WRITE_ID)
            .expression_attribute_values(":write", write_id.clone())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(output) => Ok(Ok(output)),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused))
                    if refused
                        .item
                        .as_ref()
                        .is_some_and(|old| old.get(LAST_WRITE_ID) == Some(&write_id)) =>
                {
                    tracing::warn!(
                        "a retried enrolment update found its own earlier write; reporting that"
                    );
                    Ok(Ok(UpdateItemOutput::builder()
                        .set_attributes(refused.item.clone())
                        .build()))
                }
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => Ok(Err(refused
                    .item
                    .clone()
                    .map(|old| from_item(user, old))
                    .transpose()?)),
                _ => Err(failed("updating an enrolment")(error)),
            },
        }
    }
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The values every LIVE + UNLOCKED condition uses.
fn guard_values(
    enrollment_id: &str,
    now: OffsetDateTime,
    policy: LockPolicy,
) -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":eid", AttributeValue::S(enrollment_id.to_owned())),
        (":now", n(millis(now))),
        (":max", n(policy.max_failures)),
        (":lock_start", n(millis(now - policy.lock_for(0)))),
    ]
}

/// Why a write on an enrolment was refused, from the old item.
enum Refusal {
    /// None, another enrolment, or a lapsed pending one.
    Gone,
    Locked {
        until: OffsetDateTime,
    },
    /// The same live, unlocked enrolment, as it stands: its own condition (step, recovery code,
    /// count) refused.
    Live(Box<Enrollment>),
}

fn refusal(
    old: Option<Enrollment>,
    enrollment_id: &str,
    now: OffsetDateTime,
    policy: LockPolicy,
) -> Refusal {
    match old {
        Some(e) if e.is_live(enrollment_id, now) => match policy.locked_until(&e, now) {
            Some(until) => Refusal::Locked { until },
            None => Refusal::Live(Box::new(e)),
        },
        _ => Refusal::Gone,
    }
}

impl TotpStore for DynamoStore {
    async fn enroll(
        &self,
        enrollment: Enrollment,
        replace: bool,
        _now: OffsetDateTime,
    ) -> Result<EnrollAdmission, StoreError> {
        // A lapsed pending enrolment is still `pending_until_ms`, so it gives way like a live one.
        let mut put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(&enrollment)?));
        if !replace {
            // Only a pending (or lapsed) enrolment gives way without `replace`.
            put = put
                .condition_expression(
                    "attribute_not_exists(#pk) OR attribute_exists(pending_until_ms)",
                )
                .expression_attribute_names("#pk", PARTITION_KEY);
        }
        match put.send().await {
            Ok(_) => Ok(EnrollAdmission::Enrolled),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(EnrollAdmission::ActiveExists)
            }
            Err(e) => Err(failed("storing an enrolment")(e)),
        }
    }

    async fn enrollment(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Option<Enrollment>, StoreError> {
        let read = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(totp_key(user))))
            .consistent_read(true)
            .send()
            .await
            .map_err(failed("reading an enrolment"))?;
        Ok(read
            .item
            .map(|item| from_item(user, item))
            .transpose()?
            .filter(|e| !e.has_lapsed(now)))
    }

    async fn remove(&self, user: &UserId) -> Result<bool, StoreError> {
        let deleted = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(totp_key(user))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(failed("deleting an enrolment"))?;
        Ok(deleted.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn accept_step(
        &self,
        user: &UserId,
        enrollment_id: &str,
        step: u64,
        now: OffsetDateTime,
        policy: LockPolicy,
    ) -> Result<StepOutcome, StoreError> {
        let mut values = guard_values(enrollment_id, now, policy);
        values.extend([(":step", n(step)), (":zero", n(0))]);
        let result = self
            .update_enrollment(
                user,
                format!("{LIVE} AND {UNLOCKED} AND (attribute_not_exists(last_step) OR last_step < :step)"),
                &format!(
                    "SET last_step = :step, failures = :zero, last_used_ms = :now \
                     REMOVE pending_until_ms, purge_at, {RESET}"
                ),
                values,
            )
            .await?;
        Ok(match result {
            Ok(_) => StepOutcome::Accepted,
            Err(old) => match refusal(old, enrollment_id, now, policy) {
                Refusal::Locked { until } => StepOutcome::Locked { until },
                Refusal::Live(_) => StepOutcome::Replayed,
                Refusal::Gone => StepOutcome::Gone,
            },
        })
    }

    async fn count_failure(
        &self,
        user: &UserId,
        enrollment_id: &str,
        now: OffsetDateTime,
        policy: LockPolicy,
    ) -> Result<FailureOutcome, StoreError> {
        // Most wrong codes start no lock: one more on the count, on condition that it stays below
        // the limit (where `LockPolicy::fail` only counts). One write.
        let mut values = guard_values(enrollment_id, now, policy);
        values.extend([
            (":one", n(1)),
            (":below", n(policy.max_failures.saturating_sub(1))),
        ]);
        let result = self
            .update_enrollment(
                user,
                format!("{LIVE} AND {UNLOCKED} AND failures < :below"),
                "SET failures = failures + :one, last_failure_ms = :now",
                values,
            )
            .await?;
        let mut known = match result {
            Ok(output) => {
                let failures = output
                    .attributes
                    .and_then(|a| a.get("failures").cloned())
                    .and_then(|v| v.as_n().ok().and_then(|n| n.parse().ok()))
                    .unwrap_or(policy.max_failures);
                return Ok(FailureOutcome::Counted {
                    attempts_remaining: policy.attempts_remaining(failures),
                });
            }
            Err(old) => match refusal(old, enrollment_id, now, policy) {
                Refusal::Locked { until } => return Ok(FailureOutcome::Locked { until }),
                Refusal::Gone => return Ok(FailureOutcome::Gone),
                Refusal::Live(old) => old,
            },
        };
        // This failure starts a lock (or restarts a count left at the limit): the refusal handed
        // back the item, the policy decides from it, and the write is conditional on the count and
        // the escalation it was decided on.
        for _ in 0..FAILURE_ROUNDS {
            let mut next = (*known).clone();
            let outcome = policy.fail(&mut next, now);
            let mut values = guard_values(enrollment_id, now, policy);
            values.extend([
                (":failures", n(known.failures)),
                (":lockouts", n(known.lockouts)),
                (":next_failures", n(next.failures)),
            ]);
            let escalation = if known.lockouts == 0 {
                "(attribute_not_exists(lockouts) OR lockouts = :lockouts)"
            } else {
                "lockouts = :lockouts"
            };
            let mut update = "SET failures = :next_failures, last_failure_ms = :now".to_owned();
            if let Some(until) = next
                .locked_until
                .filter(|_| next.lockouts != known.lockouts)
            {
                update.push_str(", lockouts = :next_lockouts, locked_until_ms = :until");
                values.extend([
                    (":next_lockouts", n(next.lockouts)),
                    (":until", n(millis(until))),
                ]);
            }
            let result = self
                .update_enrollment(
                    user,
                    format!("{LIVE} AND {UNLOCKED} AND failures = :failures AND {escalation}"),
                    &update,
                    values,
                )
                .await?;
            known = match result {
                Ok(_) => return Ok(outcome),
                Err(old) => match refusal(old, enrollment_id, now, policy) {
                    Refusal::Locked { until } => return Ok(FailureOutcome::Locked { until }),
                    Refusal::Gone => return Ok(FailureOutcome::Gone),
                    // Another request changed the count meanwhile: decide again on what it left.
                    Refusal::Live(old) => old,
                },
            };
        }
        Err(StoreError::Unavailable(anyhow::anyhow!(
            "the failure count kept changing under concurrent wrong codes"
        )))
    }

    async fn use_recovery_code(
        &self,
        user: &UserId,
        enrollment_id: &str,
        hash: &CodeHash,
        now: OffsetDateTime,
        policy: LockPolicy,
    ) -> Result<RecoveryOutcome, StoreError> {
        let hash = HEXLOWER.encode(hash.as_bytes());
        let mut values = guard_values(enrollment_id, now, policy);
        values.extend([
            (":hash", AttributeValue::S(hash.clone())),
            (":hashes", AttributeValue::Ss(vec![hash])),
            (":zero", n(0)),
        ]);
        let result = self
            .update_enrollment(
                user,
                format!(
                    "{LIVE} AND {UNLOCKED} AND attribute_not_exists(pending_until_ms) \
                     AND contains({RECOVERY}, :hash)"
                ),
                &format!(
                    "DELETE {RECOVERY} :hashes SET failures = :zero, last_used_ms = :now \
                     REMOVE {RESET}"
                ),
                values,
            )
            .await?;
        Ok(match result {
            Ok(output) => RecoveryOutcome::Accepted {
                remaining: output
                    .attributes
                    .and_then(|a| a.get(RECOVERY).cloned())
                    .and_then(|v| v.as_ss().map(Vec::len).ok())
                    .unwrap_or(0) as u32,
            },
            Err(old) => match refusal(old, enrollment_id, now, policy) {
                Refusal::Locked { until } => RecoveryOutcome::Locked { until },
                Refusal::Live(_) => RecoveryOutcome::Unknown,
                Refusal::Gone => RecoveryOutcome::Gone,
            },
        })
    }
}

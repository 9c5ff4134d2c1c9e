//! Authenticator enrolments on the DynamoDB table, one item per user: `totp#<user id>`.
//!
//! Every change is one conditional write on that item. A write names the enrolment it was decided
//! on (`enrollment_id`), so nothing meant for a replaced enrolment lands on its successor. Wrong
//! codes count against the user under [`GuessRecord`]'s rule (per client network, and for
//! everyone), kept whole in the map `guesses`; `guess_version` counts its writes. The use case has
//! read the item already, so each write decides on that read and is conditional on its
//! `guess_version`: a wrong code, the one that starts a lock included, is one `UpdateItem`, and an
//! approval is one too. A write refused because another changed the record meanwhile hands back the
//! item, and the decision is made again on it. Recovery codes are a string set of keyed hashes;
//! using one is a `DELETE` from the set conditional on `contains`.
//!
//! An item written before the guess record keeps its user-wide lock (`locked_until_ms`, read as a
//! lock for everyone); its old count is dropped at the next write.
//!
//! A pending enrolment carries `purge_at` (its confirmation deadline plus a day) for TTL; an active
//! one has none and stays until deleted.

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use data_encoding::HEXLOWER;
use time::OffsetDateTime;

use super::codec::*;
use super::enrollment_item::*;
use super::errors::*;
use super::store::*;
use crate::adapters::OsRandomness;
use crate::crypto::CodeHash;
use crate::domain::{ChallengeId, GuessBudget, NetworkKey, UserId};
use crate::ports::{
    EnrollAdmission, Enrollment, FailureOutcome, RecoveryOutcome, StepOutcome, StoreError,
    TotpStore,
};

/// The part of every TOTP write's condition that says the enrolment is still the one decided on
/// (present, the same enrolment, not a lapsed pending one) and its guess record is as it was read.
pub(super) fn decided_on(enrollment: &Enrollment) -> String {
    let version = if enrollment.guess_version == 0 {
        "attribute_not_exists(guess_version)"
    } else {
        "guess_version = :version"
    };
    format!(
        "attribute_exists(#pk) AND enrollment_id = :eid \
         AND (attribute_not_exists(pending_until_ms) OR pending_until_ms > :now) AND {version}"
    )
}

/// How often a write is decided again after another changed the enrolment first. Each refusal
/// means another write landed, and writes per user are few (a network stops writing once locked,
/// all stop at the day's budget), so this bounds only how many verifies for one user may race.
pub(super) const ROUNDS: usize = 32;

/// The attribute naming the latest write on an enrolment (see [`DynamoStore::update_enrollment`]).
pub(super) const LAST_WRITE_ID: &str = "last_write_id";

impl DynamoStore {
    /// A conditional update of a user's enrolment item. Refused, it hands back the old item (or
    /// `None` if there was none) for the caller to say why.
    ///
    /// Each update also writes a fresh random write id, and refuses an item already carrying it: when
    /// a reply is lost and the SDK retries an update that did land, the retry is refused with the
    /// item as that update left it, which is the update's own result (a TOTP code is not then
    /// reported as replayed, nor a recovery code as unknown).
    pub(super) async fn update_enrollment(
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

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A write decided on the enrolment as last read: its own condition and clauses. The guess record
/// is written whole beside them, under the next version.
pub(super) struct Decided {
    pub(super) condition: &'static str,
    /// `SET` assignments (`a = :a, …`), or empty.
    pub(super) set: &'static str,
    /// Attributes to `REMOVE`, or empty.
    pub(super) remove: &'static str,
    /// A `DELETE` clause's body, or empty.
    pub(super) delete: &'static str,
    pub(super) values: Vec<(&'static str, AttributeValue)>,
}

impl DynamoStore {
    /// Writes what `decide` makes of the enrolment as last read, conditional on it, and answers what
    /// `decide` said the write means; decides again on the item a refusal hands back. `decide`
    /// answers `Err(outcome)` when no write is needed.
    pub(super) async fn decide_and_write<T>(
        &self,
        read: &Enrollment,
        now: OffsetDateTime,
        gone: T,
        mut decide: impl FnMut(&mut Enrollment) -> Result<(Decided, T), T>,
    ) -> Result<T, StoreError> {
        let mut known = read.clone();
        let eid = read.enrollment_id.clone();
        for _ in 0..ROUNDS {
            if !known.is_live(&eid, now) {
                return Ok(gone);
            }
            // The domain's decision, made on a copy of the item as last read.
            let mut next = known.clone();
            let (decided, outcome) = match decide(&mut next) {
                Ok(decided) => decided,
                Err(outcome) => return Ok(outcome),
            };
            let guesses = next.guesses;
            let mut values = decided.values;
            values.extend([
                (":eid", AttributeValue::S(eid.clone())),
                (":now", n(millis(now))),
                (":next_version", n(known.guess_version + 1)),
            ]);
            if known.guess_version > 0 {
                values.push((":version", n(known.guess_version)));
            }
            let mut set = vec!["guess_version = :next_version"];
            let mut remove = vec![LEGACY_COUNT];
            if guesses.is_empty() {
                remove.push("guesses");
            } else {
                set.push("guesses = :guesses");
                let stored = serde_dynamo::to_attribute_value(StoredGuesses::from_record(&guesses))
                    .context("mapping a guess record")?;
                values.push((":guesses", stored));
            }
            set.extend(Some(decided.set).filter(|s| !s.is_empty()));
            remove.extend(Some(decided.remove).filter(|r| !r.is_empty()));
            let mut update = format!("SET {} REMOVE {}", set.join(", "), remove.join(", "));
            if !decided.delete.is_empty() {
                update.push_str(" DELETE ");
                update.push_str(decided.delete);
            }
            let condition = format!("({}) AND ({})", decided_on(&known), decided.condition);
            match self
                .update_enrollment(&known.user_id, condition, &update, values)
                .await?
            {
                Ok(_) => return Ok(outcome),
                Err(None) => return Ok(gone),
                // Changed meanwhile (or its own condition refused): decide again on what it is.
                Err(Some(old)) => known = old,
            }
        }
        tracing::warn!("an enrolment's guess record kept changing under concurrent verifies");
        Err(StoreError::Unavailable(anyhow::anyhow!(
            "the enrolment kept changing"
        )))
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
            // `Enrollment::gives_way`: only a pending (or lapsed) one gives way without `replace`.
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
        enrollment: &Enrollment,
        step: u64,
        network: &NetworkKey,
        _budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<StepOutcome, StoreError> {
        self.decide_and_write(enrollment, now, StepOutcome::Gone, |next| {
            // Steps only move forward, so a stale read that refuses one is right.
            match next.accept_step(step, network, now) {
                StepOutcome::Accepted => {}
                refused => return Err(refused),
            }
            let write = Decided {
                condition: "attribute_not_exists(last_step) OR last_step < :step",
                set: "last_step = :step, last_used_ms = :now",
                remove: "pending_until_ms, purge_at",
                delete: "",
                values: vec![(":step", n(step))],
            };
            Ok((write, StepOutcome::Accepted))
        })
        .await
    }

    async fn count_failure(
        &self,
        enrollment: &Enrollment,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<FailureOutcome, StoreError> {
        self.decide_and_write(enrollment, now, FailureOutcome::Gone, |next| {
            let outcome = next.count_failure(budget, network, now);
            if let FailureOutcome::Locked { .. } = outcome {
                return Err(outcome);
            }
            let write = Decided {
                condition: "attribute_exists(#pk)",
                set: "",
                remove: "",
                delete: "",
                values: Vec::new(),
            };
            Ok((write, outcome))
        })
        .await
    }

    async fn use_recovery_code(
        &self,
        enrollment: &Enrollment,
        hash: &CodeHash,
        network: &NetworkKey,
        _budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<RecoveryOutcome, StoreError> {
        let hex = HEXLOWER.encode(hash.as_bytes());
        self.decide_and_write(enrollment, now, RecoveryOutcome::Gone, |next| {
            // Codes are only ever used up, so a stale read that lacks one is right.
            let outcome = next.use_recovery_code(hash, network, now);
            if !matches!(outcome, RecoveryOutcome::Accepted { .. }) {
                return Err(outcome);
            }
            let write = Decided {
                condition: "attribute_not_exists(pending_until_ms) AND contains(recovery, :hash)",
                set: "last_used_ms = :now",
                remove: "",
                delete: "recovery :hashes",
                values: vec![
                    (":hash", AttributeValue::S(hex.clone())),
                    (":hashes", AttributeValue::Ss(vec![hex.clone()])),
                ],
            };
            // The read is the item at its version, so the count left after this one is exact.
            Ok((write, outcome))
        })
        .await
    }
}

//! The guess budget on DynamoDB (the rule is [`crate::domain::GuessRecord`]'s).
//!
//! A destination's guess record lives in its `dest#` item, beside its sends, as maps keyed by network
//! pseudonym (`guess_failures`, `guess_last_failure_ms`, `guess_lockouts`, `guess_locks`) and by
//! clock hour (`guess_hourly`), plus `guess_locked_until_ms` for everyone. A send reads that item
//! anyway, so it refuses a locked-out network and copies the locks in force onto the code it issues.
//!
//! Each code item mirrors the locks of its destination, so a verify stays one `UpdateItem` on the code
//! alone: `lock#<network>` (epoch ms) per locked network and `dest_locked_until_ms`, both checked in
//! the verify's condition, and `guessed_from`, the string set of networks that had failures counted
//! when it was sent or have tried it since (an approval from one of them resets that network's count).
//!
//! - A wrong code costs one more request: an `UpdateItem` that counts it in the destination's item
//!   (and bumps its version, so a concurrent send decides again) and returns the old item.
//! - The one that starts a lock costs a `TransactWriteItems` more: the destination's item with the
//!   lock (conditional on the version), and the lock copied onto each of its live codes.
//! - An approval costs one more `UpdateItem` only when its network had failures counted.
//! - Items written before the guess budget, and a network's first failure after a day without one,
//!   take the slow path: a consistent read, then the same conditional write.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use time::OffsetDateTime;

use super::codec::*;
use super::destination_item::*;
use super::errors::*;
use super::store::*;
use crate::domain::{
    ESCALATION_MEMORY, GuessBudget, GuessLock, GuessRecord, NetworkGuesses, NetworkKey, hour_of,
};
use crate::ports::StoreError;

/// The code item's attribute that mirrors a network's lock.
pub(super) fn network_lock_attribute(network: &NetworkKey) -> String {
    format!("lock#{}", network.as_str())
}

pub(super) const DESTINATION_LOCK: &str = "dest_locked_until_ms";
pub(super) const GUESSED_FROM: &str = "guessed_from";

/// How often a lock is written again after losing a race with a send or another failure.
pub(super) const LOCK_ATTEMPTS: usize = 8;

impl DestinationItem {
    /// The guess record this item holds.
    pub(super) fn guesses(&self) -> Result<GuessRecord, StoreError> {
        let mut record = GuessRecord {
            locked_until: self.guess_locked_until_ms.map(from_millis).transpose()?,
            ..GuessRecord::default()
        };
        // Each per-network map fills in one field of each network's entry.
        fn fill<T: Copy>(
            record: &mut GuessRecord,
            map: &BTreeMap<String, T>,
            set: impl Fn(&mut NetworkGuesses, T) -> Result<(), StoreError>,
        ) -> Result<(), StoreError> {
            for (name, value) in map {
                let network = NetworkKey::parse(name).map_err(|_| corrupt("guess network"))?;
                set(record.networks.entry(network).or_default(), *value)?;
            }
            Ok(())
        }
        fill(&mut record, &self.guess_failures, |n, v| {
            n.failures = v;
            Ok(())
        })?;
        fill(&mut record, &self.guess_last_failure_ms, |n, v| {
            n.last_failure_at = Some(from_millis(v)?);
            Ok(())
        })?;
        fill(&mut record, &self.guess_lockouts, |n, v| {
            n.lockouts = v;
            Ok(())
        })?;
        fill(&mut record, &self.guess_locks, |n, v| {
            n.locked_until = Some(from_millis(v)?);
            Ok(())
        })?;
        for (hour, count) in &self.guess_hourly {
            let hour = hour.parse().map_err(|_| corrupt("guess hour"))?;
            record.hourly.insert(hour, *count);
        }
        Ok(record)
    }

    /// Writes `record` back into this item's maps.
    pub(super) fn set_guesses(&mut self, record: &GuessRecord) {
        fn each<T>(
            record: &GuessRecord,
            value: impl Fn(&NetworkGuesses) -> Option<T>,
        ) -> BTreeMap<String, T> {
            record
                .networks
                .iter()
                .filter_map(|(key, n)| Some((key.as_str().to_owned(), value(n)?)))
                .collect()
        }
        self.guess_failures = each(record, |n| Some(n.failures).filter(|f| *f > 0));
        self.guess_last_failure_ms = each(record, |n| n.last_failure_at.map(millis));
        self.guess_lockouts = each(record, |n| Some(n.lockouts).filter(|l| *l > 0));
        self.guess_locks = each(record, |n| n.locked_until.map(millis));
        self.guess_hourly = record
            .hourly
            .iter()
            .map(|(hour, count)| (hour.to_string(), *count))
            .collect();
        self.guess_locked_until_ms = record.locked_until.map(millis);
    }
}

/// What counting a failure with one `UpdateItem` found.
pub(super) enum Counted {
    /// Counted; the item as it was before.
    Before(Box<DestinationItem>),
    /// Not counted: the item predates the guess budget, the network's run lapsed, or there is no
    /// item.
    SlowPath,
}

impl DynamoStore {
    /// Counts a wrong code from `network` against the destination `dest_pk`, and locks what the
    /// budget says to lock, on the destination and on each of its live codes.
    pub(super) async fn count_wrong_guess(
        &self,
        dest_pk: &str,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<Option<GuessLock>, StoreError> {
        // Whether this failure is in the stored counts, and the item as it then stands.
        let (counted, mut known) = match self.add_failure(dest_pk, network, now).await? {
            Counted::Before(before) => {
                let mut item = *before;
                let mut record = item.guesses()?;
                record.count_failure(network, now);
                item.set_guesses(&record);
                item.version += 1;
                (true, Some(item))
            }
            Counted::SlowPath => (false, None),
        };
        for _ in 0..LOCK_ATTEMPTS {
            let mut item = match known.take() {
                Some(item) => item,
                None => self.read_sends(dest_pk).await?,
            };
            let mut record = item.guesses()?;
            if !counted {
                record.count_failure(network, now);
            }
            let lock = record.lock_due(budget, network, now);
            if counted && lock.is_none() {
                return Ok(None);
            }
            if let Some(lock) = lock {
                record.apply(lock, network);
            }
            record.prune(now);
            item.set_guesses(&record);
            if self.write_guesses(item, lock, network, now).await? {
                return Ok(lock);
            }
        }
        tracing::warn!("counting a wrong code lost every race with writes to its destination");
        Err(StoreError::Unavailable(anyhow::anyhow!(
            "the destination's item kept changing"
        )))
    }

    /// The fast path: one conditional `UpdateItem` that adds the failure to the counts.
    pub(super) async fn add_failure(
        &self,
        dest_pk: &str,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Result<Counted, StoreError> {
        let stale = now - GuessBudget::WINDOW;
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(dest_pk.to_owned())))
            .condition_expression(
                "attribute_exists(#failures) AND attribute_exists(#last) AND attribute_exists(#hourly) \
                 AND (attribute_not_exists(#last.#n) OR #last.#n > :stale)",
            )
            .update_expression(
                "SET #failures.#n = if_not_exists(#failures.#n, :zero) + :one, #last.#n = :now, \
                 #hourly.#h = if_not_exists(#hourly.#h, :zero) + :one, #purge = :purge \
                 ADD #version :one",
            )
            .expression_attribute_names("#failures", "guess_failures")
            .expression_attribute_names("#last", "guess_last_failure_ms")
            .expression_attribute_names("#hourly", "guess_hourly")
            .expression_attribute_names("#purge", TTL_ATTRIBUTE)
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#n", network.as_str())
            .expression_attribute_names("#h", hour_of(now).to_string())
            .expression_attribute_values(":zero", AttributeValue::N("0".to_owned()))
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(":now", AttributeValue::N(millis(now).to_string()))
            .expression_attribute_values(":stale", AttributeValue::N(millis(stale).to_string()))
            .expression_attribute_values(
                ":purge",
                // Past anything a failure now can keep: its run, its hour in the window, any lock,
                // the network's escalation.
                AttributeValue::N(
                    purge_seconds(now + ESCALATION_MEMORY + Duration::from_secs(2 * 3600))
                        .to_string(),
                ),
            )
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .send()
            .await;
        match result {
            Ok(output) => {
                let before = output
                    .attributes
                    .ok_or_else(|| corrupt("no attributes returned"))?;
                let before: DestinationItem =
                    serde_dynamo::from_item(before).context("mapping the sends item")?;
                Ok(Counted::Before(Box::new(before)))
            }
            Err(error) if is_condition_failure(&error) => Ok(Counted::SlowPath),
            Err(error) => Err(failed("counting a wrong code")(error)),
        }
    }

    /// Writes the destination's item, conditional on the version it was read at, and with a lock,
    /// copies the lock onto every live code of the destination in the same transaction. `false`:
    /// a send or another failure wrote the item first.
    pub(super) async fn write_guesses(
        &self,
        mut item: DestinationItem,
        lock: Option<GuessLock>,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let read_version = item.version;
        item.version += 1;
        let keep_until = item.guesses()?.keep_until();
        if let Some(keep_until) = keep_until {
            item.purge_at = item.purge_at.max(purge_seconds(keep_until));
        }
        let now_ms = millis(now);
        let mut live: Vec<String> = match lock {
            Some(_) => item
                .last_sends
                .values()
                .filter(|last| last.expires_at_ms > now_ms)
                .map(|last| last.id.clone())
                .collect(),
            None => Vec::new(),
        };
        let rest = loop {
            let mut writes = vec![put_versioned(self.table(), &item, read_version)?];
            if let Some(lock) = lock {
                for id in &live {
                    writes.push(mark_code(self.table(), id, lock, network)?);
                }
            }
            // DynamoDB takes at most 100 writes in a transaction; a destination has one live code
            // per purpose, far fewer. Any beyond are marked one by one after.
            let rest = if writes.len() > 100 {
                writes.split_off(100)
            } else {
                Vec::new()
            };
            let Err(error) = self
                .client()
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await
            else {
                break rest;
            };
            let failed_checks = failed_conditions(&error);
            if failed_checks.contains(&0) || is_transaction_conflict(&error) {
                return Ok(false);
            }
            if failed_checks.is_empty() {
                return Err(failed("writing a guess count or lock")(error));
            }
            // A live code's item is gone (deleted by hand): nothing to mark there.
            let gone: Vec<String> = failed_checks
                .iter()
                .filter_map(|position| live.get(position - 1).cloned())
                .collect();
            live.retain(|id| !gone.contains(id));
        };
        for write in rest {
            let update = write.update.context("a code's mark is an update")?;
            self.client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await
                .map_err(failed("copying a guess lock onto a code"))?;
        }
        Ok(true)
    }

    /// After an approval from `network`, which had failures counted: its count starts again.
    pub(super) async fn reset_guesses(
        &self,
        dest_pk: &str,
        network: &NetworkKey,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(dest_pk.to_owned())))
            .condition_expression(
                "attribute_exists(#failures) AND attribute_exists(#last) \
                 AND attribute_exists(#lockouts) AND attribute_exists(#locks)",
            )
            .update_expression(
                "REMOVE #failures.#n, #last.#n, #lockouts.#n, #locks.#n ADD #version :one",
            )
            .expression_attribute_names("#failures", "guess_failures")
            .expression_attribute_names("#last", "guess_last_failure_ms")
            .expression_attribute_names("#lockouts", "guess_lockouts")
            .expression_attribute_names("#locks", "guess_locks")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#n", network.as_str())
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .send()
            .await;
        match result {
            // An item from before the guess budget has no counts to reset.
            Err(error) if is_condition_failure(&error) => Ok(()),
            other => other.map(|_| ()).map_err(failed("resetting a guess count")),
        }
    }
}

/// Copies `lock` onto a live code's item, which must still exist.
pub(super) fn mark_code(
    table: &str,
    id: &str,
    lock: GuessLock,
    network: &NetworkKey,
) -> Result<TransactWriteItem, StoreError> {
    let attribute = match lock {
        GuessLock::Network { .. } => network_lock_attribute(network),
        GuessLock::Destination { .. } => DESTINATION_LOCK.to_owned(),
    };
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(code_key(id))))
        .update_expression("SET #lock = :until")
        .condition_expression("attribute_exists(#pk)")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_names("#lock", attribute)
        .expression_attribute_values(
            ":until",
            AttributeValue::N(millis(lock.until()).to_string()),
        )
        .build()
        .context("building a code's guess lock")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The locks a code issued now carries, and the networks whose approval must reset a count.
pub(super) fn mirror_onto_code(
    code: &mut HashMap<String, AttributeValue>,
    record: &GuessRecord,
    now: OffsetDateTime,
) {
    code.retain(|name, _| {
        !name.starts_with("lock#") && name != DESTINATION_LOCK && name != GUESSED_FROM
    });
    let (networks, everyone) = record.active_locks(now);
    for (network, until) in networks {
        code.insert(
            network_lock_attribute(&network),
            AttributeValue::N(millis(until).to_string()),
        );
    }
    if let Some(until) = everyone {
        code.insert(
            DESTINATION_LOCK.to_owned(),
            AttributeValue::N(millis(until).to_string()),
        );
    }
    let guessing = record.guessing_networks();
    if !guessing.is_empty() {
        code.insert(
            GUESSED_FROM.to_owned(),
            AttributeValue::Ss(guessing.iter().map(|n| n.as_str().to_owned()).collect()),
        );
    }
}

/// The lock on `network` a code's item carries at `now_ms`, if any: its own or everyone's.
pub(super) fn mirrored_lock(
    code: &HashMap<String, AttributeValue>,
    network: &NetworkKey,
    now_ms: i64,
) -> Option<i64> {
    let read = |name: &str| match code.get(name) {
        Some(AttributeValue::N(ms)) => ms.parse::<i64>().ok(),
        _ => None,
    };
    read(&network_lock_attribute(network))
        .max(read(DESTINATION_LOCK))
        .filter(|until| *until > now_ms)
}

/// Whether `network` is among the code item's `guessed_from`.
pub(super) fn has_guessed(code: &HashMap<String, AttributeValue>, network: &NetworkKey) -> bool {
    matches!(code.get(GUESSED_FROM), Some(AttributeValue::Ss(set)) if set.iter().any(|n| n == network.as_str()))
}

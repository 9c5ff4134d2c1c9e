//! An enrolment's item, `totp#<user id>`: how an [`Enrollment`] is written and read back, its guess
//! record as one map included.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};

use super::codec::*;
use crate::crypto::{CodeHash, SealedSecret};
use crate::domain::{GuessRecord, NetworkGuesses, NetworkKey, UserId};
use crate::ports::{Enrollment, StoreError};
use crate::totp::TotpParams;

/// How long a lapsed pending enrolment's item is kept before TTL may remove it.
pub(super) const PENDING_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

pub(super) const RECOVERY: &str = "recovery";

pub(super) fn totp_key(user: &UserId) -> String {
    format!("totp#{}", user.as_str())
}

/// The item, but for its recovery code set, which serde_dynamo would write as a list.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EnrollmentItem {
    pub(super) pk: String,
    pub(super) enrollment_id: String,
    pub(super) sealed_secret: SealedSecret,
    pub(super) params: TotpParams,
    pub(super) created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) pending_until_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_used_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_step: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) guesses: Option<StoredGuesses>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) guess_version: u64,
    /// The user-wide lock of an item written before the guess record: read, never written.
    #[serde(default, skip_serializing)]
    pub(super) locked_until_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) purge_at: Option<i64>,
}

pub(super) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What an item written before the guess record may still hold, and every write removes.
pub(super) const LEGACY_COUNT: &str = "failures, last_failure_ms, lockouts, locked_until_ms";

pub(super) fn to_item(e: &Enrollment) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let item = EnrollmentItem {
        pk: totp_key(&e.user_id),
        enrollment_id: e.enrollment_id.clone(),
        sealed_secret: e.sealed_secret.clone(),
        params: e.params,
        created_at_ms: millis(e.created_at),
        pending_until_ms: e.pending_until.map(millis),
        last_used_ms: e.last_used_at.map(millis),
        last_step: e.last_step,
        guesses: (!e.guesses.is_empty()).then(|| StoredGuesses::from_record(&e.guesses)),
        guess_version: e.guess_version,
        locked_until_ms: None,
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

pub(super) fn from_item(
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
    let mut guesses = item
        .guesses
        .map(StoredGuesses::into_record)
        .transpose()?
        .unwrap_or_default();
    guesses.locked_until = guesses.locked_until.max(time(item.locked_until_ms)?);
    Ok(Enrollment {
        user_id: user.clone(),
        enrollment_id: item.enrollment_id,
        sealed_secret: item.sealed_secret,
        params: item.params,
        created_at: from_millis(item.created_at_ms)?,
        pending_until: time(item.pending_until_ms)?,
        last_used_at: time(item.last_used_ms)?,
        last_step: item.last_step,
        guesses,
        guess_version: item.guess_version,
        recovery_hashes,
    })
}

/// A whole guess record as one map attribute, for an item whose every write is conditional on the
/// record's version (an enrolment's): no counter needs updating in place.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct StoredGuesses {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) networks: BTreeMap<String, StoredNetwork>,
    /// Wrong codes per clock hour (hours since the epoch, as text: map keys are strings).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) hourly: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) locked_until_ms: Option<i64>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct StoredNetwork {
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub(super) failures: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_failure_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub(super) lockouts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) locked_until_ms: Option<i64>,
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

impl StoredGuesses {
    pub(super) fn from_record(record: &GuessRecord) -> Self {
        Self {
            networks: record
                .networks
                .iter()
                .map(|(key, n)| {
                    let stored = StoredNetwork {
                        failures: n.failures,
                        last_failure_ms: n.last_failure_at.map(millis),
                        lockouts: n.lockouts,
                        locked_until_ms: n.locked_until.map(millis),
                    };
                    (key.as_str().to_owned(), stored)
                })
                .collect(),
            hourly: record
                .hourly
                .iter()
                .map(|(hour, count)| (hour.to_string(), *count))
                .collect(),
            locked_until_ms: record.locked_until.map(millis),
        }
    }

    pub(super) fn into_record(self) -> Result<GuessRecord, StoreError> {
        let time = |ms: Option<i64>| ms.map(from_millis).transpose();
        let mut record = GuessRecord {
            locked_until: time(self.locked_until_ms)?,
            ..GuessRecord::default()
        };
        for (name, n) in self.networks {
            let network = NetworkKey::parse(&name).map_err(|_| corrupt("guess network"))?;
            let guesses = NetworkGuesses {
                failures: n.failures,
                last_failure_at: time(n.last_failure_ms)?,
                lockouts: n.lockouts,
                locked_until: time(n.locked_until_ms)?,
            };
            record.networks.insert(network, guesses);
        }
        for (hour, count) in self.hourly {
            let hour = hour.parse().map_err(|_| corrupt("guess hour"))?;
            record.hourly.insert(hour, count);
        }
        Ok(record)
    }
}

//! The table's key scheme and how values are stored: keys, times, hashes.

use std::collections::HashMap;

use anyhow::anyhow;
use aws_sdk_dynamodb::types::AttributeValue;
use data_encoding::HEXLOWER;
use time::OffsetDateTime;

use crate::crypto::{CodeHash, IdempotentSend};
use crate::ports::StoreError;

/// The table's partition key and TTL attribute.
pub const PARTITION_KEY: &str = "pk";
pub const TTL_ATTRIBUTE: &str = "purge_at";

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

pub(super) fn hex(hash: &CodeHash) -> String {
    HEXLOWER.encode(hash.as_bytes())
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Failed(anyhow!("stored item is malformed: {what}"))
}

pub(super) fn decode_hash(text: &str) -> Result<CodeHash, StoreError> {
    let bytes = HEXLOWER
        .decode(text.as_bytes())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| corrupt("code hash"))?;
    Ok(CodeHash::from_bytes(bytes))
}

pub(super) fn idempotency_key(send: &IdempotentSend) -> String {
    format!("idem#{}", send.slot)
}

/// The key of a quota counter's item.
pub(super) fn counter_key(counter: &str) -> String {
    format!("rate#{counter}")
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! Quota counters: a charge on one shard inside the send's transaction, and reading a counter's
//! shards when a charge was refused and the domain needs their exact standing
//! ([`crate::domain::Plan::ReadShards`]).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::codec::*;
use super::errors::*;
use super::store::DynamoStore;
use crate::domain::{Charge, Quota, Room};
use crate::ports::StoreError;

/// A quota charge (on one shard) inside the send's transaction: adds the amount unless that takes
/// the shard past its share of the limit. The item is purged an hour after its window ends.
pub(super) fn charge_in_transaction(
    table: &str,
    charge: &Charge,
    resets_at: OffsetDateTime,
) -> Result<TransactWriteItem, StoreError> {
    let room = charge.limit.saturating_sub(charge.amount);
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(counter_key(&charge.counter))))
        .update_expression("SET #purge = :purge ADD #used :amount")
        .condition_expression("attribute_not_exists(#used) OR #used <= :room")
        .expression_attribute_names("#used", "used")
        .expression_attribute_names("#purge", TTL_ATTRIBUTE)
        .expression_attribute_values(":amount", AttributeValue::N(charge.amount.to_string()))
        .expression_attribute_values(":room", AttributeValue::N(room.to_string()))
        .expression_attribute_values(
            ":purge",
            AttributeValue::N(purge_seconds(resets_at + Duration::from_secs(3600)).to_string()),
        )
        .build()
        .context("building a quota charge")?;
    Ok(TransactWriteItem::builder().update(update).build())
}

impl DynamoStore {
    /// Every shard's exact room, read consistently in one `BatchGetItem` (a counter has at most 64
    /// shards; BatchGetItem takes 100 keys). A shard never written has its whole share.
    pub(super) async fn read_rooms(&self, quota: &Quota) -> Result<Vec<Room>, StoreError> {
        let counters = quota.shard_counters();
        let mut used: HashMap<String, u64> = HashMap::new();
        let mut keys: Vec<HashMap<String, AttributeValue>> =
            counters.iter().map(|c| key(counter_key(c))).collect();
        // DynamoDB may leave keys unprocessed under load: ask again for those, a few times.
        for _ in 0..4 {
            if keys.is_empty() {
                break;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut keys)))
                .consistent_read(true)
                .projection_expression("#pk, #used")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#used", "used")
                .build()
                .context("building the read of a counter's shards")?;
            let read = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(failed("reading a counter's shards"))?;
            for item in read
                .responses
                .and_then(|mut tables| tables.remove(&self.table))
                .unwrap_or_default()
            {
                let pk = match item.get(PARTITION_KEY) {
                    Some(AttributeValue::S(pk)) => pk.clone(),
                    _ => return Err(corrupt("a counter without its key")),
                };
                let count = match item.get("used") {
                    Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt("a counter"))?,
                    _ => 0,
                };
                used.insert(pk, count);
            }
            keys = read
                .unprocessed_keys
                .and_then(|mut tables| tables.remove(&self.table))
                .map(|left| left.keys)
                .unwrap_or_default();
        }
        if !keys.is_empty() {
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "a counter's shards stayed unread"
            )));
        }
        let standing: Vec<u64> = counters
            .iter()
            .map(|c| used.get(&counter_key(c)).copied().unwrap_or(0))
            .collect();
        Ok(quota.rooms(&standing))
    }
}

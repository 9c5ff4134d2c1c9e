//! Idempotency records: claimed with one conditional `PutItem`, settled on their holder.

use anyhow::Context as _;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::codec::*;
use super::errors::*;
use super::store::*;
use crate::crypto::IdempotentSend;
use crate::domain::{ChallengeId, HeldKey, keep_claim_until};
use crate::ports::{IdempotencyClaim, StoreError};

/// A send's idempotency record (see the module comment).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct IdempotencyItem {
    pub(super) pk: String,
    pub(super) fingerprint: String,
    pub(super) holder: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reply: Option<String>,
    pub(super) until_ms: i64,
    pub(super) purge_at: i64,
}

impl DynamoStore {
    pub(super) async fn claim_idempotency_record(
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
            purge_at: purge_seconds(keep_claim_until(lease_until)),
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
        let held = HeldKey {
            fingerprint: &old.fingerprint,
            reply: old.reply.as_deref(),
            until: from_millis(old.until_ms)?,
        };
        Ok(held.refusal(&send.fingerprint))
    }

    pub(super) async fn settle_idempotency_record(
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
}

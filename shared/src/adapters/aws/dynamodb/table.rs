//! Creating the table (otp-local `--create-table`, tests).

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};

use super::codec::*;

/// Creates the table (on-demand, TTL on `purge_at`) unless it exists; for otp-local and tests.
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

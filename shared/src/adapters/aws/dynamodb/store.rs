//! The store's handle: the client and the table.

use anyhow::Context as _;
use aws_sdk_dynamodb::Client;

use super::codec::*;
use super::destination_item::*;
use super::errors::*;
use crate::ports::StoreError;

/// A [`crate::ports::ChallengeStore`] (and TOTP store) on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: String,
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

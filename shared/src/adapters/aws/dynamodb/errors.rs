//! DynamoDB failures, as the store reports them.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use crate::ports::StoreError;

/// A DynamoDB failure, as a store error: unavailable (retry later) or opaque. SDK errors carry no
/// item values of ours.
pub(super) fn failed<E>(
    action: &'static str,
) -> impl FnOnce(SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e| {
        let unavailable = super::super::sdk::is_unavailable(&e);
        let e = anyhow::Error::new(e).context(action);
        if unavailable {
            StoreError::Unavailable(e)
        } else {
            StoreError::Failed(e)
        }
    }
}

pub(super) fn is_condition_failure<R>(error: &SdkError<UpdateItemError, R>) -> bool {
    error
        .as_service_error()
        .is_some_and(UpdateItemError::is_conditional_check_failed_exception)
}

/// Whether DynamoDB cancelled the transaction because another one was writing the same items.
pub(super) fn is_transaction_conflict<R>(error: &SdkError<TransactWriteItemsError, R>) -> bool {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            // A transaction that met another on one of its items, or an item past its write
            // throughput (on-demand: `ThrottlingError`): both pass, so decide again after a pause.
            .any(|reason| {
                matches!(
                    reason.code(),
                    Some("TransactionConflict" | "ThrottlingError")
                )
            }),
        _ => false,
    }
}

/// Which writes of a cancelled transaction failed their condition, by position.
pub(super) fn failed_conditions<R>(error: &SdkError<TransactWriteItemsError, R>) -> Vec<usize> {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
            .cancellation_reasons()
            .iter()
            .enumerate()
            .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
            .map(|(position, _)| position)
            .collect(),
        _ => Vec::new(),
    }
}

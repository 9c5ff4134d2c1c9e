//! The AWS adapters: the DynamoDB store, SNS and SES delivery, and the Secrets Manager service secret.
//!
//! Clients are built from aws-config's standard chain, so `AWS_REGION`, the credentials variables and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (an emulator, in tests) apply with no code of ours.

mod delivery;
mod dynamodb;
mod secrets;
mod totp;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

pub use delivery::{AwsDelivery, EmailSettings, SesEmail, SmsSettings, SnsSms};
pub use dynamodb::{DynamoStore, create_table_if_missing};
pub use secrets::service_secret_from_secrets_manager;

/// The shared SDK configuration, loaded once per container.
///
/// One HTTP/TLS stack for every client: hyper 1 + rustls with ring (the SDK's default features would
/// add aws-lc, which is larger and slower to build). Timeouts and retries are set well inside the
/// Lambda timeout so a stuck dependency becomes an error reply rather than a timed-out invocation.
pub async fn sdk_config() -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await
}

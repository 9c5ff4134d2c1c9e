//! The SDK configuration every client shares, and how its errors read.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The shared SDK configuration, loaded once per container.
///
/// One HTTP/TLS stack for every client: hyper 1 + rustls with ring (the SDK's default features would
/// add aws-lc, which is larger and slower to build). Timeouts and retries are set well inside the
/// Lambda timeout so a stuck dependency becomes an error reply rather than a timed-out invocation.
pub async fn sdk_config() -> SdkConfig {
    configured(aws_config::defaults(BehaviorVersion::latest()))
        .load()
        .await
}

/// `loader` with the HTTP client, timeouts and retries every client of ours uses (tests add an
/// endpoint, such as a fault-injecting proxy, and get exactly the production behaviour).
///
/// Worst case for one request: three attempts of at most 2 s each with backoff between them, cut off
/// at 5 s in all, then an error the caller answers with a 503 — half the Lambda's 10 s timeout.
pub fn configured(loader: ConfigLoader) -> ConfigLoader {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    loader
        .http_client(http_client)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
}

/// Whether an AWS call failed because the service is unavailable for now (no answer in time, no
/// connection, an unreadable reply, throttling, a 5xx), as opposed to refusing the request. The
/// SDK has already retried these; the caller should be told to come back later.
pub(super) fn is_unavailable<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || service.err().code().is_some_and(|code| {
                    THROTTLING_ERRORS.contains(&code) || TRANSIENT_ERRORS.contains(&code)
                })
        }
        _ => false,
    }
}

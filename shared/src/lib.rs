//! The heart of otp-lambda, shared by the send, verify and enroll Lambdas and by otp-local.
//!
//! - [`domain`]: values built by parsing (destinations, codes, challenge ids, purposes…).
//! - [`usecases`]: send and verify, generic over the [`ports`].
//! - [`adapters`]: implementations of the ports (in-memory store, OS randomness, system clock; the AWS
//!   ones with the `aws` feature).
//! - `runtime`: the Lambdas' service built from their environment (with the `aws` feature).
//! - [`metrics`]: the metrics port and its CloudWatch Embedded Metric Format adapter.
//! - [`delivery_events`]: what SMS, voice and email providers report about sent messages;
//!   [`delivery_handler`]: the events Lambda's handler, which counts them.
//! - [`http`]: the handlers the Lambdas and otp-local call, and the one place HTTP statuses are chosen.

pub mod abuse;
pub mod adapters;
pub mod config;
pub mod crypto;
pub mod delivery_events;
pub mod delivery_handler;
pub mod domain;
pub mod http;
/// Only with the `aws` feature (on by default): it builds the Lambdas' service from the AWS SDK.
#[cfg(feature = "aws")]
pub mod lambda;
pub mod logging;
pub mod messages;
pub mod metrics;
pub mod ports;
pub mod profiles;
pub mod proof;
pub mod routes;
pub mod settings;
pub mod totp;
pub mod usecases;

pub use config::Settings;
pub use crypto::ServiceSecret;
pub use usecases::Otp;

//! Implementations of the ports that need no cloud: the in-memory store (otp-local, tests), the
//! system clock and the OS random source (production), and deterministic doubles (tests); and, with the
//! `aws` feature, in `aws`: the DynamoDB store, SNS/SES delivery and the Secrets Manager secret.

/// Only with the `aws` feature (on by default), which brings in the AWS SDK: builds that need no cloud,
/// such as the fuzz targets, leave it out and compile in a fraction of the time.
#[cfg(feature = "aws")]
pub mod aws;
mod clock;
mod emf;
mod fixed_bot_check;
mod memory;
mod no_delivery;
mod randomness;
mod recorded_metrics;
/// Only with the `aws` feature: it calls the provider over the AWS SDK's own HTTP/TLS stack.
#[cfg(feature = "aws")]
pub mod siteverify;

pub use clock::{ManualClock, SystemClock};
pub use emf::EmfMetrics;
pub use fixed_bot_check::{FixedAnswer, FixedBotCheck};
pub use memory::MemoryStore;
pub use no_delivery::NoDelivery;
pub use randomness::{OsRandomness, SeededRandomness};
pub use recorded_metrics::RecordedMetrics;

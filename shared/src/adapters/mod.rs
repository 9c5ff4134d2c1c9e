//! Implementations of the ports that need no cloud: the in-memory store (otp-local, tests), the
//! system clock and the OS random source (production), and deterministic doubles (tests); and in
//! [`aws`], the DynamoDB store, SNS/SES delivery and the Secrets Manager secret.

pub mod aws;
mod clock;
mod memory;
mod no_delivery;
mod randomness;

pub use clock::{ManualClock, SystemClock};
pub use memory::MemoryStore;
pub use no_delivery::NoDelivery;
pub use randomness::{OsRandomness, SeededRandomness};

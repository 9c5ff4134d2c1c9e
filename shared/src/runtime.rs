//! Building the service for a Lambda container, once per cold start, from its environment.

use std::sync::Arc;

use crate::adapters::{MemoryStore, NoDelivery, OsRandomness, SystemClock};
use crate::config::{ServiceSecret, Settings};
use crate::hashing::Keys;
use crate::usecases::Otp;

/// The service as a Lambda runs it in this build: the store and delivery adapters for AWS are not
/// wired in yet, so the store is per-container memory and every delivery is refused (502).
pub type LambdaOtp = Otp<MemoryStore, NoDelivery>;

pub fn lambda_otp_from_env() -> anyhow::Result<LambdaOtp> {
    let settings = Settings::from_env()?;
    let secret =
        ServiceSecret::from_env()?.ok_or_else(|| anyhow::anyhow!("OTP_SECRET is not set"))?;
    Ok(Otp::new(
        MemoryStore::new(),
        NoDelivery,
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
        Keys::derive(&secret),
        settings,
    ))
}

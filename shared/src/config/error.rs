//! Why a setting could not be used.

/// A setting that could not be used. Names the variable, never echoes a secret.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {detail}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub detail: String,
}

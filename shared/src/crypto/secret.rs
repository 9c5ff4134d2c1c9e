//! The service secrets: what every key derives from.

use std::fmt;

use zeroize::Zeroizing;

use super::Randomness;

/// A secret too short to derive keys from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be at least {} bytes (e.g. `openssl rand -base64 32`)",
    ServiceSecret::MIN_BYTES
)]
pub struct ShortSecret;

/// The one secret every key of the service derives from. Never printed.
#[derive(Clone)]
pub struct ServiceSecret(Zeroizing<Vec<u8>>);

impl ServiceSecret {
    pub const MIN_BYTES: usize = 32;

    pub fn parse(value: &str) -> Result<Self, ShortSecret> {
        if value.len() < Self::MIN_BYTES {
            return Err(ShortSecret);
        }
        Ok(Self(Zeroizing::new(value.as_bytes().to_vec())))
    }

    /// A fresh random secret, for a local server that was given none. Codes die with the process.
    pub fn ephemeral(randomness: &dyn Randomness) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; Self::MIN_BYTES]);
        randomness.fill(&mut bytes);
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ServiceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused_and_never_printed() {
        assert!(ServiceSecret::parse("too short").is_err());
        let secret = ServiceSecret::parse("a secret that is long enough to use!").unwrap();
        assert!(!format!("{secret:?}").contains("long enough"));
    }
}

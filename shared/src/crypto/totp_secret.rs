//! An authenticator's shared secret, as drawn and as opened from its sealed form.

use std::fmt;

use zeroize::Zeroizing;

use super::Randomness;

/// A TOTP secret: 160 bits from the CSPRNG, as RFC 4226 recommends. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<[u8; 20]>);

impl TotpSecret {
    pub fn generate(randomness: &dyn Randomness) -> Self {
        let mut bytes = Zeroizing::new([0u8; 20]);
        randomness.fill(bytes.as_mut());
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; 20]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8; 20] {
        &self.0
    }

    /// Base32 without padding: what an authenticator app's "enter a setup key" expects.
    pub fn base32(&self) -> Zeroizing<String> {
        Zeroizing::new(data_encoding::BASE32_NOPAD.encode(self.0.as_ref()))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

//! What the keys make: keyed hashes and pseudonyms. None of them can be reversed without the key.

use std::fmt;

use subtle::ConstantTimeEq;

/// The keyed hash of a code. Equality is constant time.
#[derive(Clone)]
pub struct CodeHash(pub(super) [u8; 32]);

impl CodeHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for CodeHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for CodeHash {}

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHash(<redacted>)")
    }
}

/// A keyed pseudonym of a destination (128 bits, hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestinationKey(pub(super) String);

impl DestinationKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A send the caller made idempotent (`Idempotency-Key`), as the store knows it: keyed hashes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentSend {
    /// Names the record: a hash of the caller's key.
    pub slot: String,
    /// A hash of the request, so a key reused for a different request is refused, not replayed.
    pub fingerprint: String,
}

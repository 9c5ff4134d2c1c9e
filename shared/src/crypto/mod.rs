//! The bottom of the crate: randomness, the service secrets, key derivation, keyed hashes and the
//! AEAD sealer. It imports nothing else of the crate, so every other module may use it.

mod hashes;
mod keys;
mod random;
mod sealer;
mod secret;
mod totp_secret;

pub use hashes::{CodeHash, DestinationKey, IdempotentSend};
pub use keys::{KeySecrets, Keys, SecretNeed};
pub use random::{Randomness, RandomnessRng};
pub use sealer::{SealError, SealedSecret, SecretSealer};
pub use secret::{ServiceSecret, ShortSecret};
pub use totp_secret::TotpSecret;

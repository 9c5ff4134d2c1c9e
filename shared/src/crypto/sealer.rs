//! The AEAD sealer: AES-256-GCM under keys of the service, for what is kept at rest but must be
//! opened again (authenticator secrets, destinations for proofs, TOTP challenges).

use aes_gcm::aead::{Aead, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Randomness, TotpSecret};

/// A secret as stored (a TOTP secret; a destination address): AES-256-GCM under a key derived from the service secret, with the user
/// id as associated data (a sealed secret copied to another user does not open), and the id of the
/// key that sealed it so keys can rotate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
}

/// Opening a sealed secret failed: wrong key, wrong user, or tampering.
#[derive(Debug, thiserror::Error)]
#[error("the sealed value cannot be opened (wrong key, wrong associated data, or tampered)")]
pub struct SealError;

/// The keys that seal TOTP secrets: the current one (by id), which seals, and retired ones, which
/// still open what they sealed until every such secret has been re-enrolled or re-sealed.
pub struct SecretSealer {
    current: (String, Zeroizing<[u8; 32]>),
    retired: Vec<(String, Zeroizing<[u8; 32]>)>,
}

impl SecretSealer {
    pub fn new(key_id: &str, key: Zeroizing<[u8; 32]>) -> Self {
        Self {
            current: (key_id.to_owned(), key),
            retired: Vec::new(),
        }
    }

    /// Adds a key that no longer seals but still opens.
    pub fn with_retired(mut self, key_id: &str, key: Zeroizing<[u8; 32]>) -> Self {
        self.retired.push((key_id.to_owned(), key));
        self
    }

    fn key(&self, key_id: &str) -> Option<&Zeroizing<[u8; 32]>> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|(id, _)| id == key_id)
            .map(|(_, key)| key)
    }

    pub fn seal(
        &self,
        user_id: &str,
        secret: &TotpSecret,
        randomness: &dyn Randomness,
    ) -> SealedSecret {
        self.seal_bytes(user_id.as_bytes(), secret.expose(), randomness)
    }

    pub fn open(&self, user_id: &str, sealed: &SealedSecret) -> Result<TotpSecret, SealError> {
        let plain = self.open_bytes(user_id.as_bytes(), sealed)?;
        let bytes: [u8; 20] = plain.as_slice().try_into().map_err(|_| SealError)?;
        Ok(TotpSecret::from_bytes(bytes))
    }

    /// Seals `plain` under the current key, bound to `aad`: it opens only with the same `aad`.
    pub fn seal_bytes(
        &self,
        aad: &[u8],
        plain: &[u8],
        randomness: &dyn Randomness,
    ) -> SealedSecret {
        let (nonce, ciphertext) = self.encrypt(aad, plain, randomness);
        SealedSecret {
            key_id: self.current.0.clone(),
            nonce: BASE64.encode(&nonce),
            ciphertext: BASE64.encode(&ciphertext),
        }
    }

    /// [`Self::seal_bytes`] as one byte string, nonce ‖ ciphertext, under the current key only: for
    /// a short-lived token that names no key id.
    pub fn seal_compact(&self, aad: &[u8], plain: &[u8], randomness: &dyn Randomness) -> Vec<u8> {
        let (nonce, ciphertext) = self.encrypt(aad, plain, randomness);
        [nonce.as_slice(), &ciphertext].concat()
    }

    /// Opens what [`Self::seal_compact`] sealed.
    pub fn open_compact(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        decrypt(&self.current.1, nonce, ciphertext, aad)
    }

    fn encrypt(
        &self,
        aad: &[u8],
        plain: &[u8],
        randomness: &dyn Randomness,
    ) -> ([u8; NONCE_LEN], Vec<u8>) {
        let cipher = Aes256Gcm::new_from_slice(self.current.1.as_ref()).expect("a 256-bit key");
        let mut nonce = [0u8; NONCE_LEN];
        randomness.fill(&mut nonce);
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .expect("AES-GCM encrypts any short message");
        (nonce, ciphertext)
    }

    pub fn open_bytes(
        &self,
        aad: &[u8],
        sealed: &SealedSecret,
    ) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let key = self.key(&sealed.key_id).ok_or(SealError)?;
        let nonce = BASE64
            .decode(sealed.nonce.as_bytes())
            .map_err(|_| SealError)?;
        let ciphertext = BASE64
            .decode(sealed.ciphertext.as_bytes())
            .map_err(|_| SealError)?;
        decrypt(key, &nonce, &ciphertext, aad)
    }
}

/// The length of an AES-GCM nonce.
const NONCE_LEN: usize = 12;

fn decrypt(
    key: &Zeroizing<[u8; 32]>,
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if nonce.len() != NONCE_LEN {
        return Err(SealError);
    }
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).expect("a 256-bit key");
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::SeededRandomness;

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_and_key() {
        let random = SeededRandomness::new(4);
        let secret = TotpSecret::generate(&random);
        let sealer = SecretSealer::new("v1", Zeroizing::new([7u8; 32]));
        let sealed = sealer.seal("user-1", &secret, &random);
        assert_eq!(sealed.key_id, "v1");
        assert!(!sealed.ciphertext.contains(&*secret.base32()));
        assert_eq!(sealer.open("user-1", &sealed).unwrap(), secret);

        assert!(
            sealer.open("user-2", &sealed).is_err(),
            "another user's AAD"
        );
        let other_key = SecretSealer::new("v1", Zeroizing::new([8u8; 32]));
        assert!(other_key.open("user-1", &sealed).is_err(), "another key");
        let mut tampered = sealed.clone();
        let mut bytes = BASE64.decode(tampered.ciphertext.as_bytes()).unwrap();
        bytes[0] ^= 1;
        tampered.ciphertext = BASE64.encode(&bytes);
        assert!(sealer.open("user-1", &tampered).is_err(), "tampering");
        let mut rotated = sealed.clone();
        rotated.key_id = "v2".into();
        assert!(
            sealer.open("user-1", &rotated).is_err(),
            "an unknown key id"
        );
        // Two seals of one secret differ: the nonce is fresh each time.
        assert_ne!(sealer.seal("user-1", &secret, &random), sealed);
    }

    #[test]
    fn after_a_rotation_the_new_key_seals_and_the_retired_one_still_opens() {
        let random = SeededRandomness::new(5);
        let secret = TotpSecret::generate(&random);
        let old = SecretSealer::new("v1", Zeroizing::new([7u8; 32]));
        let sealed_before = old.seal("user-1", &secret, &random);

        let rotated = SecretSealer::new("v2", Zeroizing::new([9u8; 32]))
            .with_retired("v1", Zeroizing::new([7u8; 32]));
        assert_eq!(rotated.open("user-1", &sealed_before).unwrap(), secret);
        let sealed_after = rotated.seal("user-1", &secret, &random);
        assert_eq!(sealed_after.key_id, "v2");
        assert!(old.open("user-1", &sealed_after).is_err());
    }
}

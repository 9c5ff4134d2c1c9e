//! The key hierarchy: codes are stored only as HMAC-SHA256 over (id, code), destinations only as a
//! keyed pseudonym. Every key derives with HKDF from one of three secrets, one per need, so a function
//! holds only the keys it uses:
//! - the **code secret** (send, verify): code hashes, destination pseudonyms and sealing, client
//!   pseudonyms, idempotency records;
//! - the **proof-signing secret** (verify): the Ed25519 keys of proof tokens;
//! - the **TOTP secret** (enroll, verify): authenticator secrets at rest, recovery codes, challenges.
//!
//! [`Keys::derive`] takes all three from one secret (otp-local, tests, a stack deployed before the
//! split): each key is then exactly what it was before the split.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{CodeHash, DestinationKey, IdempotentSend, SecretSealer, ServiceSecret};

type HmacSha256 = Hmac<Sha256>;

/// The keys a function holds, derived from the secrets it was given. Each purpose has its own key, so
/// a leak of one kind of hash says nothing about another; a function without a secret holds none of
/// its keys (asking for one is a bug the function's start-up check rules out).
#[derive(Clone)]
pub struct Keys {
    codes: Option<CodeKeys>,
    /// HKDF over the proof-signing secret, kept to derive the signing key of any version on demand.
    proofs: Option<Hkdf<Sha256>>,
    totp: Option<TotpKeys>,
}

#[derive(Clone)]
struct CodeKeys {
    code: Zeroizing<[u8; 32]>,
    destination: Zeroizing<[u8; 32]>,
    destination_seal: Zeroizing<[u8; 32]>,
    idempotency: Zeroizing<[u8; 32]>,
}

#[derive(Clone)]
struct TotpKeys {
    totp_seal: Zeroizing<[u8; 32]>,
    recovery: Zeroizing<[u8; 32]>,
    totp_challenge: Zeroizing<[u8; 32]>,
}

/// The secrets a function was given, one per need; `None`: it has no use for those keys.
#[derive(Clone, Copy, Default)]
pub struct KeySecrets<'a> {
    pub codes: Option<&'a ServiceSecret>,
    pub proofs: Option<&'a ServiceSecret>,
    pub totp: Option<&'a ServiceSecret>,
}

/// Which of the three secrets a function needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretNeed {
    Codes,
    Proofs,
    Totp,
}

impl Keys {
    const SALT: &'static [u8] = b"otp-lambda/v1";

    /// Every key from one secret (see the module comment).
    pub fn derive(secret: &ServiceSecret) -> Self {
        Self::from_secrets(KeySecrets {
            codes: Some(secret),
            proofs: Some(secret),
            totp: Some(secret),
        })
    }

    /// The keys of the secrets given, and no others.
    pub fn from_secrets(secrets: KeySecrets<'_>) -> Self {
        let hkdf = |secret: &ServiceSecret| Hkdf::<Sha256>::new(Some(Self::SALT), secret.expose());
        let expand = |hkdf: &Hkdf<Sha256>, info: &[u8]| {
            let mut key = Zeroizing::new([0u8; 32]);
            hkdf.expand(info, key.as_mut())
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            key
        };
        Self {
            codes: secrets.codes.map(|secret| {
                let h = hkdf(secret);
                CodeKeys {
                    code: expand(&h, b"code-hmac"),
                    destination: expand(&h, b"destination-pseudonym"),
                    destination_seal: expand(&h, Self::DESTINATION_SEAL_KEY_ID.as_bytes()),
                    idempotency: expand(&h, b"idempotency-hmac"),
                }
            }),
            proofs: secrets.proofs.map(hkdf),
            totp: secrets.totp.map(|secret| {
                let h = hkdf(secret);
                TotpKeys {
                    totp_seal: expand(&h, Self::TOTP_SEAL_KEY_ID.as_bytes()),
                    recovery: expand(&h, b"recovery-code-hmac"),
                    totp_challenge: expand(&h, Self::TOTP_CHALLENGE_KEY_ID.as_bytes()),
                }
            }),
        }
    }

    /// Whether these keys include those of `need`.
    pub fn has(&self, need: SecretNeed) -> bool {
        match need {
            SecretNeed::Codes => self.codes.is_some(),
            SecretNeed::Proofs => self.proofs.is_some(),
            SecretNeed::Totp => self.totp.is_some(),
        }
    }

    fn codes(&self) -> &CodeKeys {
        self.codes
            .as_ref()
            .expect("this function holds the code secret's keys (checked at start-up)")
    }

    fn totp(&self) -> &TotpKeys {
        self.totp
            .as_ref()
            .expect("this function holds the TOTP secret's keys (checked at start-up)")
    }

    /// The id of the key destinations are sealed with in a code's item, so that an approval can name
    /// the verified phone number or address in its proof token.
    const DESTINATION_SEAL_KEY_ID: &'static str = "destination-aes256gcm/v1";

    /// Seals and opens destinations at rest (AES-256-GCM, challenge id as associated data).
    pub fn destination_sealer(&self) -> SecretSealer {
        SecretSealer::new(
            Self::DESTINATION_SEAL_KEY_ID,
            self.codes().destination_seal.clone(),
        )
    }

    /// The 32-byte Ed25519 seed of proof-signing key `version`. Every container derives the same key
    /// from the service secret; a new version is a new key.
    pub fn proof_signing_seed(&self, version: u32) -> Zeroizing<[u8; 32]> {
        let mut seed = Zeroizing::new([0u8; 32]);
        self.proofs
            .as_ref()
            .expect("this function holds the proof-signing secret (checked at start-up)")
            .expand(
                format!("proof-token-ed25519/v{version}").as_bytes(),
                seed.as_mut(),
            )
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        seed
    }

    const TOTP_CHALLENGE_KEY_ID: &'static str = "totp-challenge-aes256gcm/v1";

    /// Seals the TOTP challenges the backend issues (the user and the expiry inside), so a public
    /// verify learns the user from the challenge alone and a stranger can neither forge nor alter one.
    pub fn totp_challenge_sealer(&self) -> SecretSealer {
        SecretSealer::new(
            Self::TOTP_CHALLENGE_KEY_ID,
            self.totp().totp_challenge.clone(),
        )
    }

    /// The id of the key TOTP secrets are sealed with, stored beside each sealed secret. A new id
    /// (and info string) is how the sealing key rotates.
    const TOTP_SEAL_KEY_ID: &'static str = "totp-secret-aes256gcm/v1";

    /// HMAC-SHA256(key, user id ‖ 0x00 ‖ recovery code), over the code as typed after
    /// [`crate::domain::CodeAttempt`] normalises it (no dash or spaces, upper case).
    pub fn recovery_code_hash(&self, user_id: &str, code: &str) -> CodeHash {
        let mut mac = HmacSha256::new_from_slice(self.totp().recovery.as_ref())
            .expect("HMAC takes any key length");
        mac.update(user_id.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }

    /// Seals and opens TOTP secrets at rest (AES-256-GCM, user id as associated data).
    pub fn totp_sealer(&self) -> SecretSealer {
        SecretSealer::new(Self::TOTP_SEAL_KEY_ID, self.totp().totp_seal.clone())
    }

    /// HMAC-SHA256(key, id ‖ 0x00 ‖ code), `id` the challenge's. Binding the id means a hash is
    /// useless for any other send.
    pub fn code_hash(&self, id: &str, code: &str) -> CodeHash {
        let mut mac = HmacSha256::new_from_slice(self.codes().code.as_ref())
            .expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }

    /// A stable pseudonym of a destination's recipient (`Destination::recipient`: a phone number, an
    /// email's mailbox) under which its sends are counted, so the store never holds a phone number
    /// or an email address.
    pub fn destination_key(&self, recipient: &str) -> DestinationKey {
        let mut mac = HmacSha256::new_from_slice(self.codes().destination.as_ref())
            .expect("HMAC takes any key length");
        mac.update(recipient.as_bytes());
        DestinationKey(data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()[..16]))
    }

    /// Where a send's idempotency record is kept, and what request it was for: keyed hashes of the
    /// caller's key and of the request, so the store holds neither (a request names its
    /// destination).
    /// The key is scoped to its caller and destination (`scope`): another caller's identical key
    /// is another record.
    pub fn idempotent_send(&self, key: &str, scope: &[u8], request: &[u8]) -> IdempotentSend {
        let hash = |part: &[u8], bytes: &[u8]| {
            let mut mac = HmacSha256::new_from_slice(self.codes().idempotency.as_ref())
                .expect("HMAC takes any key length");
            mac.update(part);
            mac.update(&[0]);
            mac.update(bytes);
            mac.finalize().into_bytes()
        };
        IdempotentSend {
            slot: data_encoding::HEXLOWER
                .encode(&hash(b"key", &[scope, &[0], key.as_bytes()].concat())[..16]),
            fingerprint: data_encoding::HEXLOWER.encode(&hash(b"request", request)),
        }
    }

    /// A stable pseudonym of a client's network (an IPv4 address, an IPv6 /64, as the abuse rules
    /// name it), under which its sends are counted: the store never holds an IP address.
    pub fn client_key(&self, network: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(self.codes().destination.as_ref())
            .expect("HMAC takes any key length");
        // Destinations canonicalise to `+…` or an address with `@`: this prefix cannot collide.
        mac.update(b"client-network:");
        mac.update(network.as_bytes());
        data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()[..16])
    }

    /// A stable pseudonym of an app backend's principal, counted like a client network (by the
    /// guess budget). `""`: a caller whose address the platform did not give.
    pub fn server_key(&self, principal: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(self.codes().destination.as_ref())
            .expect("HMAC takes any key length");
        mac.update(b"server-principal:");
        mac.update(principal.as_bytes());
        data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes()[..16])
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::SeededRandomness;
    use crate::domain::{ChallengeId, Channel, Destination};

    fn keys(secret: &str) -> Keys {
        Keys::derive(&ServiceSecret::parse(secret).unwrap())
    }

    #[test]
    fn totp_secrets_and_recovery_codes_use_keys_of_their_own() {
        let random = SeededRandomness::new(9);
        let secret = super::super::TotpSecret::generate(&random);
        let a = keys("correct horse battery staple, long enough");
        let b = keys("another service secret, also long enough");
        let sealed = a.totp_sealer().seal("user-1", &secret, &random);
        assert_eq!(sealed.key_id, "totp-secret-aes256gcm/v1");
        assert_eq!(a.totp_sealer().open("user-1", &sealed).unwrap(), secret);
        assert!(b.totp_sealer().open("user-1", &sealed).is_err());

        let hash = a.recovery_code_hash("user-1", "ABCDE23456");
        assert_eq!(hash, a.recovery_code_hash("user-1", "ABCDE23456"));
        assert_ne!(
            hash,
            a.recovery_code_hash("user-2", "ABCDE23456"),
            "bound to the user"
        );
        assert_ne!(
            hash,
            b.recovery_code_hash("user-1", "ABCDE23456"),
            "bound to the key"
        );
        let id = crate::domain::ChallengeId::generate(&random);
        assert_ne!(
            a.code_hash(id.as_str(), "ABCDE23456").as_bytes(),
            hash.as_bytes(),
            "not the code key"
        );
    }

    #[test]
    fn the_same_code_and_id_hash_the_same_under_one_key() {
        let keys = keys("correct horse battery staple, long enough");
        let id = ChallengeId::generate(&SeededRandomness::new(1));
        assert_eq!(
            keys.code_hash(id.as_str(), "123456"),
            keys.code_hash(id.as_str(), "123456")
        );
    }

    #[test]
    fn hashes_differ_by_code_id_and_key() {
        let random = SeededRandomness::new(2);
        let (id, other_id) = (
            ChallengeId::generate(&random),
            ChallengeId::generate(&random),
        );
        let a = keys("correct horse battery staple, long enough");
        let b = keys("another secret of sufficient length, yes");
        let hash = a.code_hash(id.as_str(), "123456");
        assert_ne!(hash, a.code_hash(id.as_str(), "123457"));
        assert_ne!(hash, a.code_hash(other_id.as_str(), "123456"));
        assert_ne!(hash, b.code_hash(id.as_str(), "123456"));
    }

    #[test]
    fn hash_matches_a_reference_hmac() {
        // Recompute HMAC-SHA256(HKDF(secret, "code-hmac"), id ‖ 0 ‖ code) independently.
        let secret = ServiceSecret::parse("correct horse battery staple, long enough").unwrap();
        let id = ChallengeId::generate(&SeededRandomness::new(3));
        let hkdf = Hkdf::<Sha256>::new(Some(b"otp-lambda/v1"), secret.expose());
        let mut key = [0u8; 32];
        hkdf.expand(b"code-hmac", &mut key).unwrap();
        let mut mac = HmacSha256::new_from_slice(&key).unwrap();
        mac.update(format!("{}\0{}", id.as_str(), "A1B2C3").as_bytes());
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(
            Keys::derive(&secret)
                .code_hash(id.as_str(), "A1B2C3")
                .as_bytes(),
            &expected
        );
    }

    #[test]
    fn comparison_is_by_value_in_constant_time() {
        let hash = CodeHash::from_bytes([7; 32]);
        let mut other = [7; 32];
        assert_eq!(hash, CodeHash::from_bytes(other));
        other[31] ^= 1;
        assert_ne!(hash, CodeHash::from_bytes(other));
        assert_eq!(format!("{hash:?}"), "CodeHash(<redacted>)");
    }

    #[test]
    fn destination_keys_ignore_email_case_and_hide_the_address() {
        let keys = keys("correct horse battery staple, long enough");
        let lower = Destination::parse(Channel::Email, "ana@example.com").unwrap();
        let upper = Destination::parse(Channel::Email, "ANA@EXAMPLE.COM").unwrap();
        let key = keys.destination_key(&lower.recipient());
        assert_eq!(key, keys.destination_key(&upper.recipient()));
        assert_eq!(key.as_str().len(), 32);
        assert!(!key.as_str().contains("ana"));
        let phone = Destination::parse(Channel::Sms, "+447911123456").unwrap();
        assert_ne!(key, keys.destination_key(&phone.recipient()));
    }

    #[test]
    fn destination_keys_name_the_mailbox_not_the_address_as_typed() {
        let keys = keys("correct horse battery staple, long enough");
        let key = |channel, to| {
            keys.destination_key(&Destination::parse(channel, to).unwrap().recipient())
        };
        let ana = key(Channel::Email, "ana@example.com");
        assert_eq!(ana, key(Channel::Email, "ana+1@example.com"));
        assert_eq!(ana, key(Channel::Email, "Ana+2@Example.com"));
        assert_ne!(ana, key(Channel::Email, "ana.lima@example.com"));
        let gmail = key(Channel::Email, "analima@gmail.com");
        assert_eq!(gmail, key(Channel::Email, "ana.lima+otp@googlemail.com"));
        assert_eq!(gmail, key(Channel::Email, "a.n.a.l.i.m.a@gmail.com"));
    }
}

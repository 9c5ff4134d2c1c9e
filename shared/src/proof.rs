//! Signed proof of verification: every approval carries a short-lived JWT (EdDSA over Ed25519) that
//! the app's backend checks against the keys published at `/.well-known/jwks.json`, without calling
//! this service again and without trusting the browser that relayed it.
//!
//! The signing key derives from the service secret (HKDF), so every container signs with the same
//! key. Keys are versioned: raising `OTP_SIGNING_KEY_VERSION` signs with a new key while the previous
//! one stays published, so tokens signed just before a rotation still verify until they expire.

use std::time::Duration;

use data_encoding::BASE64URL_NOPAD;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::crypto::Keys;
use crate::domain::Transaction;

/// What a deployment configures about its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
    /// The signing key in use; the one before it stays published.
    pub key_version: u32,
}

impl Default for ProofSettings {
    fn default() -> Self {
        Self {
            issuer: "otp-lambda".to_owned(),
            audience: "otp-lambda-clients".to_owned(),
            ttl: Duration::from_secs(300),
            key_version: 1,
        }
    }
}

/// What an approval proves: who or what was verified, how, and for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof<'a> {
    /// The challenge id, or a fresh id for an authenticator code.
    pub jti: &'a str,
    pub subject: ProofSubject<'a>,
    /// How: `sms`, `email`, `totp` or `recovery_code`.
    pub method: &'static str,
    pub purpose: Option<&'a str>,
    pub reference: Option<&'a str>,
    /// The payment the code confirmed, if any.
    pub transaction: Option<&'a Transaction>,
    /// The `aud` of this token when its profile sets one; else the service's.
    pub audience: Option<&'a str>,
}

/// The subject verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofSubject<'a> {
    PhoneNumber(&'a str),
    Email(&'a str),
    /// The app's user id (authenticator apps and recovery codes).
    User(&'a str),
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    /// RFC 8176 authentication method references.
    amr: &'static [&'static str],
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    purpose: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction: Option<&'a Transaction>,
}

struct PublishedKey {
    kid: String,
    /// The raw 32-byte public key, base64url.
    x: String,
}

/// The JOSE header of every token the current key signs, in the member order jsonwebtoken writes.
#[derive(Serialize)]
struct JoseHeader<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

/// Signs proof tokens and publishes the keys that verify them. Built once per process.
///
/// Tokens are assembled here (RFC 7515 compact serialization) rather than with
/// `jsonwebtoken::encode`, which rebuilds the Ed25519 key from PKCS#8, public half included, for
/// every token: that doubled the cost of an approval. The tests check byte for byte that the
/// result is what `jsonwebtoken::encode` produces (Ed25519 signatures are deterministic).
pub struct ProofSigner {
    settings: ProofSettings,
    signing: SigningKey,
    /// `base64url(header) "."`, the same for every token.
    header_prefix: String,
    /// The current key first, then the previous one (if any).
    published: Vec<PublishedKey>,
}

impl ProofSigner {
    pub fn new(keys: &Keys, settings: ProofSettings) -> Self {
        let version = settings.key_version.max(1);
        let signing = SigningKey::from_bytes(&keys.proof_signing_seed(version));
        let mut published = vec![published_key(&signing)];
        if version > 1 {
            let previous = SigningKey::from_bytes(&keys.proof_signing_seed(version - 1));
            published.push(published_key(&previous));
        }
        let header = JoseHeader {
            typ: "JWT",
            alg: "EdDSA",
            kid: &published[0].kid,
        };
        let header_json = serde_json::to_vec(&header).expect("a header of strings serializes");
        let header_prefix = BASE64URL_NOPAD.encode(&header_json) + ".";
        Self {
            settings,
            signing,
            header_prefix,
            published,
        }
    }

    /// A signed token for `proof`, issued at `now`.
    pub fn sign(&self, proof: &Proof<'_>, now: OffsetDateTime) -> String {
        let claims = self.claims(proof, now);
        let claims_json =
            serde_json::to_vec(&claims).expect("claims of strings and numbers serialize");
        let mut token = self.header_prefix.clone();
        BASE64URL_NOPAD.encode_append(&claims_json, &mut token);
        let signature = self.signing.sign(token.as_bytes());
        token.push('.');
        BASE64URL_NOPAD.encode_append(&signature.to_bytes(), &mut token);
        token
    }

    fn claims<'a>(&'a self, proof: &Proof<'a>, now: OffsetDateTime) -> Claims<'a> {
        let iat = now.unix_timestamp();
        let (phone_number, email, sub) = match proof.subject {
            ProofSubject::PhoneNumber(number) => (Some(number), None, None),
            ProofSubject::Email(address) => (None, Some(address), None),
            ProofSubject::User(user) => (None, None, Some(user)),
        };
        Claims {
            iss: &self.settings.issuer,
            aud: proof.audience.unwrap_or(&self.settings.audience),
            iat,
            exp: iat + self.settings.ttl.as_secs() as i64,
            jti: proof.jti,
            sub,
            phone_number,
            phone_number_verified: phone_number.map(|_| true),
            email,
            email_verified: email.map(|_| true),
            amr: match proof.method {
                "sms" => &["sms", "otp"],
                _ => &["otp"],
            },
            method: proof.method,
            purpose: proof.purpose,
            reference: proof.reference,
            transaction: proof.transaction,
        }
    }

    /// The JSON Web Key Set of the keys that verify tokens now: the current key and the previous.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .published
            .iter()
            .map(|key| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": key.x,
                    "kid": key.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// The key's public half and its id: the RFC 7638 thumbprint, so a kid names exactly one key.
fn published_key(key: &SigningKey) -> PublishedKey {
    let x = BASE64URL_NOPAD.encode(key.verifying_key().as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = BASE64URL_NOPAD.encode(&Sha256::digest(canonical.as_bytes()));
    PublishedKey { kid, x }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

    use super::*;
    use crate::crypto::ServiceSecret;

    fn keys() -> Keys {
        Keys::derive(&ServiceSecret::parse("proof token tests secret, 32+ bytes long").unwrap())
    }

    fn decoding_key(jwks: &serde_json::Value, kid: &str) -> DecodingKey {
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .expect("the kid is published");
        DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap()
    }

    fn validation() -> Validation {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["otp-lambda-clients"]);
        validation.set_issuer(&["otp-lambda"]);
        validation
    }

    #[test]
    fn a_token_carries_the_verified_phone_number_and_verifies_with_the_published_key() {
        let signer = ProofSigner::new(&keys(), ProofSettings::default());
        let now = OffsetDateTime::now_utc();
        let token = signer.sign(
            &Proof {
                jti: "abc",
                subject: ProofSubject::PhoneNumber("+447911123456"),
                method: "sms",
                purpose: Some("login"),
                reference: Some("order-1"),
                transaction: None,
                audience: None,
            },
            now,
        );
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        let kid = header.kid.unwrap();
        let jwks = signer.jwks();
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &decoding_key(&jwks, &kid),
            &validation(),
        )
        .unwrap();
        let claims = data.claims;
        assert_eq!(claims["phone_number"], "+447911123456");
        assert_eq!(claims["phone_number_verified"], true);
        assert_eq!(claims["amr"], serde_json::json!(["sms", "otp"]));
        assert_eq!(claims["jti"], "abc");
        assert_eq!(claims["purpose"], "login");
        assert_eq!(claims["reference"], "order-1");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            300
        );
        assert!(claims.get("email").is_none() && claims.get("sub").is_none());
    }

    #[test]
    fn the_same_secret_gives_the_same_key_in_every_container() {
        let a = ProofSigner::new(&keys(), ProofSettings::default());
        let b = ProofSigner::new(&keys(), ProofSettings::default());
        assert_eq!(a.jwks(), b.jwks());
        let other =
            Keys::derive(&ServiceSecret::parse("another secret, also 32+ bytes long").unwrap());
        assert_ne!(
            ProofSigner::new(&other, ProofSettings::default()).jwks(),
            a.jwks()
        );
    }

    #[test]
    fn after_a_rotation_tokens_of_the_previous_key_still_verify() {
        let before = ProofSigner::new(&keys(), ProofSettings::default());
        let proof = Proof {
            jti: "j",
            subject: ProofSubject::User("user-1"),
            method: "totp",
            purpose: None,
            reference: None,
            transaction: None,
            audience: None,
        };
        let old_token = before.sign(&proof, OffsetDateTime::now_utc());
        let after = ProofSigner::new(
            &keys(),
            ProofSettings {
                key_version: 2,
                ..ProofSettings::default()
            },
        );
        let jwks = after.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        let old_kid = jsonwebtoken::decode_header(&old_token)
            .unwrap()
            .kid
            .unwrap();
        let new_token = after.sign(&proof, OffsetDateTime::now_utc());
        let new_kid = jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .unwrap();
        assert_ne!(old_kid, new_kid);
        assert_eq!(
            jwks["keys"][0]["kid"],
            new_kid.as_str(),
            "the current key first"
        );
        for (token, kid) in [(&old_token, &old_kid), (&new_token, &new_kid)] {
            let claims = jsonwebtoken::decode::<serde_json::Value>(
                token,
                &decoding_key(&jwks, kid),
                &validation(),
            )
            .unwrap()
            .claims;
            assert_eq!(claims["sub"], "user-1");
        }
        // Until it expires: a token of the previous key signed a lifetime ago is refused then.
        let stale = before.sign(
            &proof,
            OffsetDateTime::now_utc() - time::Duration::seconds(301 + 60),
        );
        let error = jsonwebtoken::decode::<serde_json::Value>(
            &stale,
            &decoding_key(&jwks, &old_kid),
            &validation(),
        )
        .unwrap_err();
        assert_eq!(
            *error.kind(),
            jsonwebtoken::errors::ErrorKind::ExpiredSignature
        );
        // The next rotation drops the first key from the set: its tokens no longer verify at all.
        let next = ProofSigner::new(
            &keys(),
            ProofSettings {
                key_version: 3,
                ..ProofSettings::default()
            },
        );
        let published: Vec<_> = next.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(published.len(), 2);
        assert!(published.contains(&new_kid) && !published.contains(&old_kid));
    }

    #[test]
    fn the_proof_keys_come_from_the_proof_secret_alone() {
        use crate::crypto::KeySecrets;
        let proofs = ServiceSecret::parse("the proof-signing secret, 32+ bytes long").unwrap();
        let codes = ServiceSecret::parse("the code secret, at least 32 bytes long").unwrap();
        let split = Keys::from_secrets(KeySecrets {
            codes: Some(&codes),
            proofs: Some(&proofs),
            totp: None,
        });
        let alone = Keys::derive(&proofs);
        assert_eq!(
            ProofSigner::new(&split, ProofSettings::default()).jwks(),
            ProofSigner::new(&alone, ProofSettings::default()).jwks(),
            "the code secret has no part in the signing key"
        );
        let without = Keys::from_secrets(KeySecrets {
            codes: Some(&codes),
            ..KeySecrets::default()
        });
        assert!(!without.has(crate::crypto::SecretNeed::Proofs));
        let signing = std::panic::catch_unwind(|| without.proof_signing_seed(1));
        assert!(signing.is_err(), "no proof key without the proof secret");
    }

    #[test]
    fn a_tampered_or_expired_token_is_refused() {
        let signer = ProofSigner::new(&keys(), ProofSettings::default());
        let proof = Proof {
            jti: "j",
            subject: ProofSubject::Email("ana@example.com"),
            method: "email",
            purpose: None,
            reference: None,
            transaction: None,
            audience: None,
        };
        let token = signer.sign(&proof, OffsetDateTime::now_utc());
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        let key = decoding_key(&signer.jwks(), &kid);

        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&BASE64URL_NOPAD.decode(parts[1].as_bytes()).unwrap()).unwrap();
        claims["email"] = "mallory@example.com".into();
        parts[1] = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
        let tampered = parts.join(".");
        assert!(jsonwebtoken::decode::<serde_json::Value>(&tampered, &key, &validation()).is_err());

        let old = signer.sign(
            &proof,
            OffsetDateTime::now_utc() - Duration::from_secs(3600),
        );
        let error =
            jsonwebtoken::decode::<serde_json::Value>(&old, &key, &validation()).unwrap_err();
        assert_eq!(
            error.kind(),
            &jsonwebtoken::errors::ErrorKind::ExpiredSignature
        );
    }

    /// The hand-assembled token must be exactly what the library would have produced with the same
    /// key, header and claims, for every kind of subject and with optional claims absent.
    #[test]
    fn tokens_are_byte_for_byte_those_jsonwebtoken_encode_makes() {
        let now = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        for version in [1, 2, 7] {
            let settings = ProofSettings {
                key_version: version,
                issuer: "https://otp.example.com/\"quoted\"".to_owned(),
                ..ProofSettings::default()
            };
            let signer = ProofSigner::new(&keys(), settings.clone());
            let seed = keys().proof_signing_seed(version);
            let der = SigningKey::from_bytes(&seed).to_pkcs8_der().unwrap();
            let library_key = EncodingKey::from_ed_der(der.as_bytes());
            let proofs = [
                Proof {
                    jti: "ch_1",
                    subject: ProofSubject::PhoneNumber("+447911123456"),
                    method: "sms",
                    purpose: Some("login"),
                    reference: Some("order ü/1"),
                    transaction: None,
                    audience: None,
                },
                Proof {
                    jti: "ch_2",
                    subject: ProofSubject::Email("ana+tag@example.com"),
                    method: "email",
                    purpose: None,
                    reference: None,
                    transaction: None,
                    audience: None,
                },
                Proof {
                    jti: "tp_3",
                    subject: ProofSubject::User("user <1>"),
                    method: "totp",
                    purpose: Some("change_payment_details"),
                    reference: None,
                    transaction: None,
                    audience: None,
                },
            ];
            for proof in &proofs {
                let ours = signer.sign(proof, now);
                let mut header = Header::new(Algorithm::EdDSA);
                header.kid = Some(signer.published[0].kid.clone());
                let claims = signer.claims(proof, now);
                let theirs = jsonwebtoken::encode(&header, &claims, &library_key).unwrap();
                assert_eq!(ours, theirs, "{}", proof.jti);
            }
        }
    }
}

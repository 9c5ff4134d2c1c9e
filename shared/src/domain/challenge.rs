use std::fmt;
use std::time::Duration;

use data_encoding::BASE32_NOPAD;

use super::Invalid;
use crate::crypto::Randomness;

/// The public, unguessable name of one send: 160 random bits, lower-case base32 (32 characters).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChallengeId(String);

impl ChallengeId {
    const BYTES: usize = 20;
    const CHARS: usize = 32;

    pub fn generate(randomness: &dyn Randomness) -> Self {
        let mut bytes = [0u8; Self::BYTES];
        randomness.fill(&mut bytes);
        Self(BASE32_NOPAD.encode(&bytes).to_ascii_lowercase())
    }

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = || Invalid::new("is not an id returned by /v1/otp/send");
        if input.len() != Self::CHARS {
            return Err(invalid());
        }
        let upper = input.to_ascii_uppercase();
        let bytes = BASE32_NOPAD
            .decode(upper.as_bytes())
            .map_err(|_| invalid())?;
        debug_assert_eq!(bytes.len(), Self::BYTES);
        Ok(Self(upper.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChallengeId({})", self.0)
    }
}

impl fmt::Display for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the code confirms, as a short slug (`login`, `change-payment`); resends and limits are
/// counted per destination and purpose.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Purpose(String);

impl Purpose {
    pub const MAX_LEN: usize = 32;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let ok_len = (1..=Self::MAX_LEN).contains(&input.len());
        let bytes = input.as_bytes();
        let ok_chars = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
        let ok_ends = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
        if ok_len && ok_chars && ok_ends {
            Ok(Self(input.to_owned()))
        } else {
            Err(Invalid::new(format!(
                "must be a slug of 1 to {} lower-case letters, digits, '-' or '_', e.g. \"login\"",
                Self::MAX_LEN
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Purpose {
    fn default() -> Self {
        Self("verification".to_owned())
    }
}

/// The caller's own id for the action being confirmed (an order, a session…), echoed back on approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

impl Reference {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let chars = input.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be 1 to {} characters",
                Self::MAX_CHARS
            )));
        }
        if input.chars().any(char::is_control) {
            return Err(Invalid::new("must not contain control characters"));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a code stays valid: 30 seconds to 10 minutes (NIST SP 800-63B's cap for out-of-band
/// codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ttl(u32);

impl Ttl {
    pub const MIN_SECONDS: u64 = 30;
    pub const MAX_SECONDS: u64 = 600;

    pub fn parse(seconds: u64) -> Result<Self, Invalid> {
        if (Self::MIN_SECONDS..=Self::MAX_SECONDS).contains(&seconds) {
            Ok(Self(seconds as u32))
        } else {
            Err(Invalid::new(format!(
                "must be between {} and {} seconds",
                Self::MIN_SECONDS,
                Self::MAX_SECONDS
            )))
        }
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0))
    }

    /// Whole minutes, rounded up, as a message states them ("expires in 1 min" for 30 s).
    pub fn minutes(self) -> u32 {
        self.0.div_ceil(60)
    }
}

impl Default for Ttl {
    fn default() -> Self {
        Self(300)
    }
}

/// The caller's name for one logical send (the `Idempotency-Key` header): a retry carrying the same
/// key gets the first reply back instead of a second message. 1 to 255 visible ASCII characters, as
/// Stripe and the IETF draft allow; a UUID is the usual choice.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let ok_len = (1..=Self::MAX_LEN).contains(&input.len());
        if ok_len && input.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(Invalid::new(format!(
                "must be 1 to {} visible ASCII characters, e.g. a UUID",
                Self::MAX_LEN
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// The key may be derived from something private of the caller's; logs only need to know there was one.
impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::SeededRandomness;

    #[test]
    fn challenge_ids_are_160_bit_base32_and_round_trip() {
        let random = SeededRandomness::new(9);
        let id = ChallengeId::generate(&random);
        assert_eq!(id.as_str().len(), 32);
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        );
        assert_eq!(ChallengeId::parse(id.as_str()).unwrap(), id);
        assert_eq!(ChallengeId::parse(&id.as_str().to_uppercase()).unwrap(), id);
        assert_ne!(ChallengeId::generate(&random), id);
    }

    #[test]
    fn malformed_challenge_ids_are_refused() {
        let cases = [
            "",
            "abc",
            &"a".repeat(31),
            &"a".repeat(33),
            &"1".repeat(32),
            &"é".repeat(16),
        ];
        for bad in cases {
            assert!(ChallengeId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn purposes_are_short_slugs() {
        for good in [
            "login",
            "change-payment",
            "port_out",
            "a",
            "x1",
            &"a".repeat(32),
        ] {
            assert!(Purpose::parse(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "Login",
            "-login",
            "login-",
            "log in",
            "login!",
            &"a".repeat(33),
        ] {
            assert!(Purpose::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Purpose::default().as_str(), "verification");
    }

    #[test]
    fn references_are_bounded_printable_text() {
        assert!(Reference::parse("order-1234").is_ok());
        assert!(Reference::parse(&"é".repeat(64)).is_ok());
        for bad in ["", "a\nb", &"x".repeat(65)] {
            assert!(Reference::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ttl_is_bounded_and_rounds_minutes_up() {
        for bad in [0, 29, 3601] {
            assert!(Ttl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Ttl::parse(30).unwrap().minutes(), 1);
        assert_eq!(Ttl::parse(300).unwrap().minutes(), 5);
        assert_eq!(Ttl::parse(301).unwrap().minutes(), 6);
        assert_eq!(Ttl::default().duration(), Duration::from_secs(300));
    }
}

use std::fmt;

use super::Invalid;

/// The calling app's id for one of its users, as TOTP enrolments are keyed: 1–128 characters from
/// a URL-safe set, so it can stand in a path (`/v1/totp/enroll/{user_id}`) without encoding.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._~@+=:-".contains(c);
        // `.` and `..` are path segments that clients rewrite away, so they could not be read back.
        if input.is_empty()
            || input.len() > 128
            || !input.chars().all(allowed)
            || input == "."
            || input == ".."
        {
            return Err(Invalid::new(
                "must be 1 to 128 letters, digits or . _ ~ @ + = : - (not . or .. alone)",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_short_and_path_safe() {
        assert!(UserId::parse("user-42@tenant.example").is_ok());
        assert!(UserId::parse(&"a".repeat(128)).is_ok());
        assert!(UserId::parse(&"a".repeat(129)).is_err());
        for bad in ["", "a/b", "a b", "ümlaut", "a?b", "a%2Fb", ".", ".."] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
        }
    }
}

use std::fmt;

use super::Invalid;

/// The name of the caller's product as shown in messages ("Your Acme code…"): up to 32 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand(String);

impl Brand {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let trimmed = input.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be 1 to {} characters",
                Self::MAX_CHARS
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(Invalid::new("must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A BCP 47 language tag (`en`, `fr-CA`, `pt-BR`), checked by a full RFC 5646 parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    tag: String,
    language: String,
}

impl Locale {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let tag = language_tags::LanguageTag::parse(input)
            .ok()
            .filter(|tag| tag.validate().is_ok())
            // 5–8 letter primary subtags are reserved for future registration: none is a language.
            .filter(|tag| (2..=3).contains(&tag.primary_language().len()))
            .ok_or_else(|| {
                Invalid::new("must be a BCP 47 language tag, e.g. \"en\" or \"fr-CA\"")
            })?;
        Ok(Self {
            language: tag.primary_language().to_ascii_lowercase(),
            tag: tag.as_str().to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.tag
    }

    /// The primary language subtag, lower case (`fr` for `fr-CA`).
    pub fn language(&self) -> &str {
        &self.language
    }
}

impl Default for Locale {
    fn default() -> Self {
        Self {
            tag: "en".to_owned(),
            language: "en".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brands_are_short_single_line_names() {
        assert_eq!(Brand::parse("  Acme Bank ").unwrap().as_str(), "Acme Bank");
        assert!(Brand::parse(&"é".repeat(32)).is_ok());
        for bad in ["", "   ", "Acme\nBank", &"x".repeat(33)] {
            assert!(Brand::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn locales_are_bcp47_tags() {
        let cases = [
            ("en", "en"),
            ("fr-CA", "fr"),
            ("pt-BR", "pt"),
            ("DE", "de"),
            ("es-419", "es"),
        ];
        for (tag, language) in cases {
            let locale = Locale::parse(tag).unwrap_or_else(|e| panic!("{tag}: {e}"));
            assert_eq!(locale.language(), language);
        }
        for bad in ["", "english", "fr_CA", "e", "en-", "123"] {
            assert!(Locale::parse(bad).is_err(), "{bad:?}");
        }
    }
}

/// A profile name: 1–64 of `a-z`, `0-9`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileName(String);

impl ProfileName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let ok = (1..=Self::MAX_LEN).contains(&input.len())
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(Invalid::new(format!(
                "must be 1 to {} lower-case letters, digits, '-' or '_'",
                Self::MAX_LEN
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ProfileName {
    fn default() -> Self {
        Self("default".to_owned())
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

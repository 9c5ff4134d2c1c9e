//! The bot check a profile may ask for before a public send: which provider, and the token a
//! browser brings from the provider's widget.

use std::fmt;

use serde::Deserialize;

use super::Invalid;

/// A bot-check ("CAPTCHA") provider. Each verifies a token at its `siteverify` endpoint: a form
/// POST of `secret`, `response` (the token) and optionally `remoteip`, answered with JSON
/// `{"success": bool, "error-codes": [...], "hostname": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BotCheckProvider {
    /// Cloudflare Turnstile:
    /// <https://developers.cloudflare.com/turnstile/get-started/server-side-validation/>.
    Turnstile,
    /// hCaptcha: <https://docs.hcaptcha.com/#verify-the-user-response-server-side>.
    Hcaptcha,
    /// Google reCAPTCHA (v2, or v3 without a score threshold):
    /// <https://developers.google.com/recaptcha/docs/verify>.
    Recaptcha,
}

impl BotCheckProvider {
    /// The provider's documented `siteverify` endpoint.
    pub fn verify_url(self) -> &'static str {
        match self {
            Self::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
            Self::Hcaptcha => "https://api.hcaptcha.com/siteverify",
            Self::Recaptcha => "https://www.google.com/recaptcha/api/siteverify",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Turnstile => "turnstile",
            Self::Hcaptcha => "hcaptcha",
            Self::Recaptcha => "recaptcha",
        }
    }
}

/// A profile's bot check: whom to ask, what to do when they do not answer, and which sites'
/// tokens count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotCheckPolicy {
    pub provider: BotCheckProvider,
    /// When the provider gives no verdict (down, slow, an unreadable reply): let the send through
    /// (logged and counted) instead of answering 503.
    pub fail_open: bool,
    /// When not empty, the host names a token must have been solved on (the provider's
    /// `hostname`); a token from any other site is refused.
    pub hostnames: Vec<String>,
}

/// The token a browser got from the provider's widget (`captcha_token`). Single use at the
/// provider; never logged (its `Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct CaptchaToken(String);

impl CaptchaToken {
    /// Turnstile documents at most 2048 characters; the others' tokens are shorter.
    pub const MAX_CHARS: usize = 2048;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        if input.is_empty()
            || input.len() > Self::MAX_CHARS
            || !input.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Invalid::new(format!(
                "must be the bot-check widget's token: 1 to {} visible ASCII characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CaptchaToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CaptchaToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_visible_ascii_of_bounded_length_and_never_shown() {
        let token = CaptchaToken::parse("0.abc-DEF_123").unwrap();
        assert_eq!(token.expose(), "0.abc-DEF_123");
        assert!(!format!("{token:?}").contains("abc"));
        for bad in ["", "with space", "é", &"x".repeat(2049)] {
            assert!(CaptchaToken::parse(bad).is_err(), "{bad:?}");
        }
        assert!(CaptchaToken::parse(&"x".repeat(2048)).is_ok());
    }

    #[test]
    fn each_provider_has_its_documented_https_endpoint() {
        for provider in [
            BotCheckProvider::Turnstile,
            BotCheckProvider::Hcaptcha,
            BotCheckProvider::Recaptcha,
        ] {
            assert!(provider.verify_url().starts_with("https://"));
            assert!(provider.verify_url().ends_with("/siteverify"));
        }
    }
}

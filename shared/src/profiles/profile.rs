//! One profile: the operator's settings for one app or flow, every value parsed and checked, the
//! built-in `default`, and the error that names a profile's field.

use serde::Deserialize;

use crate::abuse::TestDestinations;
use crate::domain::{
    AndroidAppHash, BotCheckPolicy, Brand, Channel, CodeSpec, GuessBudget, Locale, ProfileName,
    Purpose, Ttl, WebOtpOrigin,
};
use crate::messages::CustomTemplate;

/// The name of the built-in profile, and of the profile a send without `profile` uses.
pub const DEFAULT_PROFILE: &str = "default";

/// Where an SMS that is refused (by an SMS rule or limit) or fails at the provider goes instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FallbackPolicy {
    #[default]
    None,
    /// To the email address the send names as `fallback_email`.
    Email,
    /// To the same number, as a call (the profile must list the `voice` channel).
    Voice,
}

/// One profile, every value parsed and checked against the floors and caps.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: ProfileName,
    pub channels: Vec<Channel>,
    pub spec: CodeSpec,
    pub ttl: Ttl,
    /// Wrong attempts allowed per code.
    pub max_attempts: u32,
    pub brand: Option<Brand>,
    /// The locales a send may ask for; `None`: any.
    pub locales: Option<Vec<Locale>>,
    pub default_locale: Locale,
    /// The purposes a send may name; `None`: any.
    pub purposes: Option<Vec<Purpose>>,
    pub web_otp_origins: Vec<WebOtpOrigin>,
    pub android_app_hashes: Vec<AndroidAppHash>,
    pub fallback: FallbackPolicy,
    /// The operator's own texts per channel and locale; the built-in ones otherwise.
    pub templates: Vec<(Channel, Locale, CustomTemplate)>,
    /// The `aud` of this profile's proof tokens; `None`: the service's (`OTP_TOKEN_AUDIENCE`).
    pub token_audience: Option<String>,
    /// The message of a server send with a `transaction` (its amount, currency and payee shown);
    /// without it such a send is refused.
    pub transaction_template: Option<CustomTemplate>,
    /// How many wrong codes a destination takes, per network and in all, before guessing stops.
    pub guess_budget: GuessBudget,
    /// Destinations that get a fixed code and no message under this profile (app-store review),
    /// besides the service's own (`OTP_TEST_DESTINATIONS`).
    pub test_destinations: TestDestinations,
    /// A bot check every public send must pass first (`captcha_token`); `None`: no check.
    pub bot_check: Option<BotCheckPolicy>,
}

impl Profile {
    /// The built-in `default` profile: the service-wide defaults, both channels, every locale and
    /// purpose, no Web OTP origin or app hash, an email fallback allowed.
    pub fn builtin(
        spec: CodeSpec,
        ttl: Ttl,
        max_attempts: u32,
        brand: Option<Brand>,
        default_locale: Locale,
    ) -> Self {
        Self {
            name: ProfileName::default(),
            channels: vec![Channel::Sms, Channel::Email],
            spec,
            ttl,
            max_attempts,
            brand,
            locales: None,
            default_locale,
            purposes: None,
            web_otp_origins: Vec::new(),
            android_app_hashes: Vec::new(),
            // A fallback reaches no one a stranger could not email directly.
            fallback: FallbackPolicy::Email,
            templates: Vec::new(),
            token_audience: None,
            transaction_template: None,
            guess_budget: GuessBudget::default(),
            test_destinations: TestDestinations::default(),
            bot_check: None,
        }
    }

    /// The profile's own text for this channel and locale: the full tag, then its language.
    pub fn template_for(&self, channel: Channel, locale: &Locale) -> Option<&CustomTemplate> {
        let tag = locale.as_str().to_ascii_lowercase();
        let find = |wanted: &str| {
            self.templates
                .iter()
                .find(|(c, l, _)| *c == channel && l.as_str().eq_ignore_ascii_case(wanted))
                .map(|(_, _, t)| t)
        };
        find(&tag).or_else(|| find(locale.language()))
    }
}

/// A profile that could not be used: names the profile and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profile `{profile}`, field `{field}`: {detail}")]
pub struct ProfileError {
    pub profile: String,
    pub field: String,
    pub detail: String,
}

//! Profiles: the operator's settings for one app or flow (channels, code strength and lifetime,
//! brand, templates, the lists a browser may choose from). They are configuration as code: the
//! repository's `profiles.json`, compiled into every binary and parsed once at start, or a file
//! otp-local is given. A public send names a profile and may choose only from its lists; only the
//! app's backend may go beyond them, and never below the profile's strength or above its lifetime.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use crate::domain::ProfileName;
use crate::domain::{
    Alphabet, AndroidAppHash, BotCheckPolicy, BotCheckProvider, Brand, Channel, Code, CodeAttempt,
    CodeLength, CodeSpec, GuessBudget, Invalid, Locale, Purpose, SmsBinding, Transaction, Ttl,
    WebOtpOrigin,
};
use crate::guard::TestDestinations;
use crate::messages::{self, CustomTemplate, MessageInput};

/// The profile file compiled in (the repository's `profiles.json`, or `OTP_PROFILES_FILE` at build
/// time; see build.rs): deploying is how profiles change, and nothing is read at run time.
pub const EMBEDDED: &str = include_str!(env!("OTP_EMBEDDED_PROFILES"));

/// The name of the built-in profile, and of the profile a send without `profile` uses.
pub const DEFAULT_PROFILE: &str = "default";

/// The longest lifetime a profile may give a sent code: NIST SP 800-63B caps out-of-band codes at
/// 10 minutes.
pub const MAX_TTL_SECONDS: u64 = 600;

/// The weakest code a profile may have: as many combinations as 6 random digits (about 20 bits, the
/// OWASP ASVS 2.7.6 floor).
pub const MIN_COMBINATIONS: u128 = 1_000_000;

/// Whether a send may name an email address to fall back to when its SMS is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FallbackPolicy {
    #[default]
    None,
    Email,
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

    /// Checks the rules this profile's own settings must meet (the file's values and the built-in
    /// one's alike): the code's strength, its lifetime, and every SMS it can send in one segment.
    pub fn check(&self) -> Result<(), ProfileError> {
        let at = |field: &str, detail: String| ProfileError {
            profile: self.name.as_str().to_owned(),
            field: field.to_owned(),
            detail,
        };
        if combinations(self.spec) < MIN_COMBINATIONS {
            return Err(at(
                "length",
                format!(
                    "a code of {} {} is weaker than 6 random digits (about 20 bits, the OWASP ASVS 2.7.6 floor)",
                    self.spec.length.get(),
                    alphabet_name(self.spec.alphabet)
                ),
            ));
        }
        if self.ttl.duration().as_secs() > MAX_TTL_SECONDS {
            return Err(at(
                "ttl_seconds",
                format!(
                    "must be at most {MAX_TTL_SECONDS} seconds: NIST SP 800-63B caps out-of-band codes at 10 minutes"
                ),
            ));
        }
        if !(1..=20).contains(&self.max_attempts) {
            return Err(at("max_attempts", "must be from 1 to 20".to_owned()));
        }
        if self.channels.is_empty() {
            return Err(at("channels", "must name at least one channel".to_owned()));
        }
        if let Some(locales) = &self.locales
            && !locales.iter().any(|l| l == &self.default_locale)
        {
            return Err(at(
                "default_locale",
                "must be one of the profile's locales".to_owned(),
            ));
        }
        if self.channels.contains(&Channel::Sms) {
            for locale in self.sms_locales() {
                let template = self.template_for(Channel::Sms, &locale);
                let segments = worst_case_sms_segments(self, template, &locale);
                if segments > messages::MAX_SMS_SEGMENTS {
                    let field = match template {
                        Some(_) => format!("templates.sms.{}", locale.as_str()),
                        None => "brand".to_owned(),
                    };
                    return Err(at(
                        &field,
                        format!(
                            "the SMS for locale {} needs {segments} segments at the longest brand, code and Web OTP line it can carry; it must fit one",
                            locale.as_str()
                        ),
                    ));
                }
            }
            if let Some(template) = &self.transaction_template {
                let segments = sms_segments(
                    Some(template),
                    self.brand.as_ref(),
                    self.spec.length,
                    &self.longest_purpose(),
                    &self.default_locale,
                    &self.longest_binding(),
                    Some(&Transaction::longest()),
                );
                if segments > messages::MAX_SMS_SEGMENTS {
                    return Err(at(
                        "transaction_template",
                        format!(
                            "the SMS needs {segments} segments at the longest amount (17 characters) and payee (64); it must fit one"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every locale an SMS of this profile can be written in: its own list, or every language the
    /// built-in texts have, plus the locales of its own templates.
    fn sms_locales(&self) -> Vec<Locale> {
        let mut locales: Vec<Locale> = match &self.locales {
            Some(locales) => locales.clone(),
            None => messages::CATALOG
                .iter()
                .filter_map(|texts| Locale::parse(texts.language).ok())
                .collect(),
        };
        for (channel, locale, _) in &self.templates {
            if *channel == Channel::Sms && !locales.contains(locale) {
                locales.push(locale.clone());
            }
        }
        locales
    }

    /// The longest purpose a public send may name.
    fn longest_purpose(&self) -> Purpose {
        match &self.purposes {
            Some(purposes) => purposes
                .iter()
                .max_by_key(|p| p.as_str().len())
                .cloned()
                .unwrap_or_default(),
            None => Purpose::parse(&"w".repeat(Purpose::MAX_LEN)).expect("a valid purpose"),
        }
    }

    /// The longest app hash and Web OTP line an SMS of this profile may end with.
    fn longest_binding(&self) -> SmsBinding {
        SmsBinding {
            origin: self
                .web_otp_origins
                .iter()
                .max_by_key(|o| o.as_str().len())
                .cloned(),
            app_hash: self.android_app_hashes.first().cloned(),
        }
    }

    /// The number of a code's possible values, to compare strengths exactly.
    pub fn combinations(&self) -> u128 {
        combinations(self.spec)
    }
}

/// How many codes a spec can make: |alphabet| ^ length.
pub fn combinations(spec: CodeSpec) -> u128 {
    (spec.alphabet.symbols().len() as u128).pow(spec.length.get() as u32)
}

fn alphabet_name(alphabet: Alphabet) -> &'static str {
    match alphabet {
        Alphabet::Digits => "digits",
        Alphabet::Letters => "letters",
        Alphabet::Alphanumeric => "letters and digits",
    }
}

/// The segments an SMS of this profile takes at its longest on a public send: its own brand and
/// code length (only the backend may change them, and its sends are checked one by one), the
/// longest purpose a send may name, and the longest app hash and Web OTP line the profile allows.
fn worst_case_sms_segments(
    profile: &Profile,
    template: Option<&CustomTemplate>,
    locale: &Locale,
) -> usize {
    sms_segments(
        template,
        profile.brand.as_ref(),
        profile.spec.length,
        &profile.longest_purpose(),
        locale,
        &profile.longest_binding(),
        None,
    )
}

/// The segments an SMS takes with this text, brand, purpose and binding, at the longest lifetime
/// ("10 min") and a code of `length` letters.
pub fn sms_segments(
    template: Option<&CustomTemplate>,
    brand: Option<&Brand>,
    length: CodeLength,
    purpose: &Purpose,
    locale: &Locale,
    binding: &SmsBinding,
    transaction: Option<&Transaction>,
) -> usize {
    let code = Code::fixed(
        CodeAttempt::parse(&"W".repeat(length.get())).expect("letters are a code attempt"),
    );
    let rendered = messages::render_quietly(
        Channel::Sms,
        MessageInput {
            code: &code,
            brand,
            ttl: Ttl::parse(MAX_TTL_SECONDS).expect("a valid ttl"),
            purpose,
            locale,
            template,
            sms_binding: Some(binding).filter(|b| !b.is_empty()),
            transaction,
        },
    );
    messages::sms_size(&rendered.text).segments
}

/// A profile that could not be used: names the profile and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profile `{profile}`, field `{field}`: {detail}")]
pub struct ProfileError {
    pub profile: String,
    pub field: String,
    pub detail: String,
}

/// Every profile of a deployment, by name; `default` always among them.
#[derive(Debug, Clone)]
pub struct Profiles(BTreeMap<ProfileName, Arc<Profile>>);

impl Profiles {
    /// Only the given built-in `default`.
    pub fn only(default: Profile) -> Self {
        let mut map = BTreeMap::new();
        map.insert(default.name.clone(), Arc::new(default));
        Self(map)
    }

    /// The profiles of a file (JSON, see docs/profiles.md), on top of the built-in `default`, which a
    /// profile named `default` replaces. Every profile is checked; the first problem is the error.
    pub fn parse(text: &str, builtin: Profile) -> Result<Self, ProfileError> {
        Self::parse_with(text, builtin, TestDestinations::from_pairs)
    }

    /// [`Self::parse`], with the profiles' test destinations read by `test_destinations`: a
    /// function that sends nothing passes one that ignores them, and so links no phone number
    /// parser (its metadata is megabytes).
    pub fn parse_with(
        text: &str,
        builtin: Profile,
        test_destinations: crate::guard::TestDestinationsParser,
    ) -> Result<Self, ProfileError> {
        let file: ProfileFile =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
                .map_err(|error| {
                    let path = error.path().to_string();
                    let mut parts = path.splitn(3, '.');
                    let (first, second, rest) = (parts.next(), parts.next(), parts.next());
                    let (profile, field) = match (first, second) {
                        (Some("profiles"), Some(name)) => {
                            (name.to_owned(), rest.unwrap_or("").to_owned())
                        }
                        _ => ("(file)".to_owned(), path.clone()),
                    };
                    ProfileError {
                        profile,
                        field: if field.is_empty() {
                            "(profile)".to_owned()
                        } else {
                            field
                        },
                        detail: error.inner().to_string(),
                    }
                })?;
        let mut profiles = Self::only(builtin.clone());
        builtin.check()?;
        for (name, raw) in file.profiles {
            let profile = raw.resolve(&name, &builtin, test_destinations)?;
            profile.check()?;
            profiles.0.insert(profile.name.clone(), Arc::new(profile));
        }
        Ok(profiles)
    }

    pub fn get(&self, name: &ProfileName) -> Option<&Arc<Profile>> {
        self.0.get(name)
    }

    /// The built-in (or replaced) `default`.
    pub fn default_profile(&self) -> &Arc<Profile> {
        self.0
            .get(&ProfileName::default())
            .expect("`default` is always present")
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Profile>> {
        self.0.values()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether any profile asks for a bot check: then the send function needs the bot-check
    /// secret, or it does not start.
    pub fn use_bot_checks(&self) -> bool {
        self.0.values().any(|profile| profile.bot_check.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    profiles: BTreeMap<String, RawProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    channels: Option<Vec<Channel>>,
    length: Option<u64>,
    alphabet: Option<Alphabet>,
    ttl_seconds: Option<u64>,
    max_attempts: Option<u32>,
    brand: Option<String>,
    locales: Option<Vec<String>>,
    default_locale: Option<String>,
    purposes: Option<Vec<String>>,
    #[serde(default)]
    web_otp_origins: Vec<String>,
    #[serde(default)]
    android_app_hashes: Vec<String>,
    #[serde(default)]
    fallback: FallbackPolicy,
    #[serde(default)]
    templates: BTreeMap<Channel, BTreeMap<String, String>>,
    token_audience: Option<String>,
    transaction_template: Option<String>,
    guess_budget: Option<RawGuessBudget>,
    #[serde(default)]
    test_destinations: BTreeMap<String, String>,
    bot_check: Option<RawBotCheck>,
}

/// A bot check as written: `{"provider": "turnstile", "fail_open": false, "hostnames": [...]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBotCheck {
    provider: BotCheckProvider,
    #[serde(default)]
    fail_open: bool,
    #[serde(default)]
    hostnames: Vec<String>,
}

/// A guess budget as written: every number optional (the defaults are the bounds' safest end).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuessBudget {
    per_network: Option<u32>,
    lock_minutes: Option<u64>,
    per_destination: Option<u32>,
}

impl RawProfile {
    fn resolve(
        self,
        name: &str,
        builtin: &Profile,
        test_destinations: crate::guard::TestDestinationsParser,
    ) -> Result<Profile, ProfileError> {
        let at = |field: &str| {
            let profile = name.to_owned();
            let field = field.to_owned();
            move |invalid: Invalid| ProfileError {
                profile: profile.clone(),
                field: field.clone(),
                detail: invalid.0,
            }
        };
        let list = |values: Vec<String>, field: &str| -> Result<Vec<String>, ProfileError> {
            let mut seen = std::collections::BTreeSet::new();
            for value in &values {
                if !seen.insert(value) {
                    return Err(at(field)(Invalid::new("lists a value twice")));
                }
            }
            Ok(values)
        };
        let name = ProfileName::parse(name).map_err(at("(name)"))?;
        let channels = match self.channels {
            Some(channels) => {
                let mut unique = channels.clone();
                unique.dedup();
                if unique.len() != channels.len() {
                    return Err(at("channels")(Invalid::new("lists a channel twice")));
                }
                channels
            }
            None => vec![Channel::Sms, Channel::Email],
        };
        let length = match self.length {
            Some(n) => CodeLength::parse(n).map_err(at("length"))?,
            None => CodeLength::default(),
        };
        let ttl = match self.ttl_seconds {
            Some(n) if n > MAX_TTL_SECONDS => {
                return Err(at("ttl_seconds")(Invalid::new(format!(
                    "must be at most {MAX_TTL_SECONDS} seconds: NIST SP 800-63B caps out-of-band codes at 10 minutes"
                ))));
            }
            Some(n) => Ttl::parse(n).map_err(at("ttl_seconds"))?,
            None => builtin.ttl.min(Ttl::parse(MAX_TTL_SECONDS).expect("valid")),
        };
        let locales = self
            .locales
            .map(|locales| {
                list(locales, "locales")?
                    .iter()
                    .map(|l| Locale::parse(l).map_err(at("locales")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let default_locale = match self.default_locale {
            Some(l) => Locale::parse(&l).map_err(at("default_locale"))?,
            None => match &locales {
                Some(locales) => locales
                    .first()
                    .cloned()
                    .ok_or_else(|| at("locales")(Invalid::new("must not be empty")))?,
                None => builtin.default_locale.clone(),
            },
        };
        let purposes = self
            .purposes
            .map(|purposes| {
                if purposes.is_empty() {
                    return Err(at("purposes")(Invalid::new(
                        "must not be empty (leave it out to allow any purpose)",
                    )));
                }
                list(purposes, "purposes")?
                    .iter()
                    .map(|p| Purpose::parse(p).map_err(at("purposes")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let web_otp_origins = list(self.web_otp_origins, "web_otp_origins")?
            .iter()
            .map(|o| WebOtpOrigin::parse(o).map_err(at("web_otp_origins")))
            .collect::<Result<Vec<_>, _>>()?;
        let android_app_hashes = list(self.android_app_hashes, "android_app_hashes")?
            .iter()
            .map(|h| AndroidAppHash::parse(h).map_err(at("android_app_hashes")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut templates = Vec::new();
        for (channel, by_locale) in self.templates {
            for (locale, text) in by_locale {
                let field = format!("templates.{}.{locale}", channel.as_str());
                let parsed_locale = Locale::parse(&locale).map_err(at(&field))?;
                let template = CustomTemplate::parse(&text).map_err(at(&field))?;
                templates.push((channel, parsed_locale, template));
            }
        }
        let token_audience = self
            .token_audience
            .map(|audience| {
                let ok = !audience.trim().is_empty()
                    && audience.chars().count() <= 256
                    && !audience.chars().any(char::is_control);
                ok.then_some(audience).ok_or_else(|| {
                    at("token_audience")(Invalid::new(
                        "must be 1 to 256 characters, no control characters",
                    ))
                })
            })
            .transpose()?;
        let transaction_template = self
            .transaction_template
            .map(|t| CustomTemplate::parse_transaction(&t).map_err(at("transaction_template")))
            .transpose()?;
        let brand = self
            .brand
            .map(|b| Brand::parse(&b).map_err(at("brand")))
            .transpose()?;
        if brand.is_none()
            && transaction_template
                .as_ref()
                .is_some_and(CustomTemplate::uses_brand)
        {
            return Err(at("transaction_template")(Invalid::new(
                "uses {brand}, but the profile has no brand",
            )));
        }
        if brand.is_none()
            && let Some((channel, locale, _)) = templates.iter().find(|(_, _, t)| t.uses_brand())
        {
            return Err(at(&format!(
                "templates.{}.{}",
                channel.as_str(),
                locale.as_str()
            ))(Invalid::new(
                "uses {brand}, but the profile has no brand",
            )));
        }
        // A public send names its purpose: a text that shows it must show only the operator's words.
        if purposes.is_none() {
            let shows_purpose = templates
                .iter()
                .map(|(channel, locale, t)| {
                    (
                        format!("templates.{}.{}", channel.as_str(), locale.as_str()),
                        t,
                    )
                })
                .chain(
                    transaction_template
                        .iter()
                        .map(|t| ("transaction_template".to_owned(), t)),
                )
                .find(|(_, t)| t.uses_purpose());
            if let Some((field, _)) = shows_purpose {
                return Err(at(&field)(Invalid::new(
                    "uses {purpose}, which a public send chooses: list the profile's purposes",
                )));
            }
        }
        Ok(Profile {
            name,
            channels,
            spec: CodeSpec {
                alphabet: self.alphabet.unwrap_or_default(),
                length,
            },
            ttl,
            max_attempts: self.max_attempts.unwrap_or(builtin.max_attempts),
            brand,
            locales,
            default_locale,
            purposes,
            web_otp_origins,
            android_app_hashes,
            fallback: self.fallback,
            templates,
            token_audience,
            transaction_template,
            test_destinations: test_destinations(
                &self
                    .test_destinations
                    .iter()
                    .map(|(to, code)| (to.as_str(), code.as_str()))
                    .collect::<Vec<_>>(),
            )
            .map_err(at("test_destinations"))?,
            bot_check: match self.bot_check {
                None => None,
                Some(raw) => {
                    let mut hostnames = Vec::new();
                    for host in &raw.hostnames {
                        // A host name as a Web OTP origin is one: no scheme, port or path.
                        let host = WebOtpOrigin::parse(host).map_err(at("bot_check"))?;
                        let host = host.as_str().to_ascii_lowercase();
                        if hostnames.contains(&host) {
                            return Err(at("bot_check")(Invalid::new(format!(
                                "lists the host name {host} twice"
                            ))));
                        }
                        hostnames.push(host);
                    }
                    Some(BotCheckPolicy {
                        provider: raw.provider,
                        fail_open: raw.fail_open,
                        hostnames,
                    })
                }
            },
            guess_budget: match self.guess_budget {
                None => GuessBudget::default(),
                Some(raw) => {
                    let default = GuessBudget::default();
                    GuessBudget::new(
                        raw.per_network.unwrap_or(default.per_network),
                        raw.lock_minutes.map_or(default.lock_for, |m| {
                            Duration::from_secs(m.saturating_mul(60))
                        }),
                        raw.per_destination.unwrap_or(default.per_destination),
                    )
                    .map_err(at("guess_budget"))?
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Profile {
        Profile::builtin(
            CodeSpec::default(),
            Ttl::default(),
            5,
            None,
            Locale::default(),
        )
    }

    fn parse(text: &str) -> Result<Profiles, ProfileError> {
        Profiles::parse(text, builtin())
    }

    fn refusal(profile: serde_json::Value) -> ProfileError {
        let file = serde_json::json!({"profiles": {"shop": profile}});
        parse(&file.to_string()).expect_err("refused")
    }

    #[test]
    fn the_repository_file_and_the_examples_load() {
        let embedded = parse(EMBEDDED).unwrap();
        assert!(embedded.get(&ProfileName::default()).is_some());
        let repository = parse(include_str!("../../profiles.json")).unwrap();
        assert!(repository.get(&ProfileName::default()).is_some());
        let examples = parse(include_str!("../../examples/profiles.json")).unwrap();
        assert_eq!(
            examples.len(),
            11,
            "ten example profiles and the built-in default"
        );
    }

    #[test]
    fn an_empty_file_leaves_the_builtin_default() {
        let profiles = parse(r#"{"profiles": {}}"#).unwrap();
        assert_eq!(profiles.len(), 1);
        let default = profiles.default_profile();
        assert_eq!(default.spec.length.get(), 6);
        assert_eq!(default.ttl.duration().as_secs(), 300);
    }

    #[test]
    fn a_code_weaker_than_six_digits_is_refused_naming_profile_and_field() {
        let error = refusal(serde_json::json!({"length": 5}));
        assert_eq!(
            (error.profile.as_str(), error.field.as_str()),
            ("shop", "length")
        );
        assert!(error.to_string().contains("OWASP"), "{error}");
        // Four letters and digits (31^4 < 10^6) too; five letters (23^5) are stronger than 6 digits.
        let error = refusal(serde_json::json!({"length": 4, "alphabet": "alphanumeric"}));
        assert_eq!(error.field, "length");
        let file = serde_json::json!({"profiles": {"shop": {"length": 5, "alphabet": "letters"}}});
        parse(&file.to_string()).unwrap();
    }

    #[test]
    fn a_lifetime_over_ten_minutes_is_refused() {
        let error = refusal(serde_json::json!({"ttl_seconds": 1200}));
        assert_eq!(error.field, "ttl_seconds");
        assert!(error.detail.contains("NIST"), "{error}");
        let file = serde_json::json!({"profiles": {"shop": {"ttl_seconds": 600}}});
        parse(&file.to_string()).unwrap();
    }

    #[test]
    fn a_profile_sets_its_guess_budget_and_test_destinations_within_bounds() {
        let file = serde_json::json!({"profiles": {"shop": {
            "guess_budget": {"per_network": 5, "lock_minutes": 60, "per_destination": 50},
            "test_destinations": {"review@example.com": "ab12cd34"},
        }}});
        let profiles = parse(&file.to_string()).unwrap();
        let shop = profiles.get(&ProfileName::parse("shop").unwrap()).unwrap();
        assert_eq!(
            shop.guess_budget,
            GuessBudget::new(5, Duration::from_secs(3600), 50).unwrap()
        );
        let review =
            crate::domain::Destination::parse(Channel::Email, "Review@example.com").unwrap();
        assert_eq!(shop.test_destinations.code_for(&review), Some("AB12CD34"));
        for (budget, field) in [
            (serde_json::json!({"per_network": 11}), "guess_budget"),
            (serde_json::json!({"per_destination": 101}), "guess_budget"),
            (serde_json::json!({"lock_minutes": 5}), "guess_budget"),
        ] {
            let error = refusal(serde_json::json!({"guess_budget": budget}));
            assert_eq!(error.field, field, "{error}");
        }
        let error = refusal(serde_json::json!({"test_destinations": {"+12025550143": "123456"}}));
        assert_eq!(error.field, "test_destinations");
        assert!(!error.detail.contains("123456"), "{error}");
    }

    #[test]
    fn a_profile_may_ask_for_a_bot_check() {
        let file = serde_json::json!({"profiles": {
            "shop": {"bot_check": {"provider": "turnstile", "hostnames": ["Example.com"]}},
            "app": {"bot_check": {"provider": "hcaptcha", "fail_open": true}},
        }});
        let profiles = parse(&file.to_string()).unwrap();
        assert!(profiles.use_bot_checks());
        let shop = profiles.get(&ProfileName::parse("shop").unwrap()).unwrap();
        let check = shop.bot_check.as_ref().unwrap();
        assert_eq!(check.provider, BotCheckProvider::Turnstile);
        assert!(!check.fail_open, "fails closed unless it says otherwise");
        assert_eq!(check.hostnames, ["example.com"]);
        assert!(profiles.default_profile().bot_check.is_none());
        assert!(!parse(r#"{"profiles": {}}"#).unwrap().use_bot_checks());
        for bad in [
            serde_json::json!({"provider": "captchaco"}),
            serde_json::json!({"fail_open": true}),
            serde_json::json!({"provider": "recaptcha", "secret": "x"}),
            serde_json::json!({"provider": "recaptcha", "hostnames": ["https://example.com"]}),
            serde_json::json!({"provider": "recaptcha", "hostnames": ["a.com", "A.com"]}),
        ] {
            let error = refusal(serde_json::json!({"bot_check": bad}));
            assert!(error.field.starts_with("bot_check"), "{error}");
        }
    }

    #[test]
    fn an_sms_template_over_one_segment_is_refused() {
        let long = format!("{{code}} {}", "x".repeat(160));
        let error = refusal(serde_json::json!({"templates": {"sms": {"en": long}}}));
        assert_eq!(error.field, "templates.sms.en");
        assert!(error.detail.contains("segments"), "{error}");
        // UCS-2 counts 70: a Greek text that fits 160 GSM-7 septets does not fit.
        let greek = format!("{{code}} {}", "λ".repeat(70));
        let error = refusal(serde_json::json!({"templates": {"sms": {"el": greek}}}));
        assert_eq!(error.field, "templates.sms.el");
        // The same text with a Web OTP line the profile allows can overflow where it alone fits.
        let near = format!("{{code}} {}", "x".repeat(140));
        let file = serde_json::json!({"profiles": {"shop": {"templates": {"sms": {"en": near}}}}});
        parse(&file.to_string()).unwrap();
        let error = refusal(serde_json::json!({
            "templates": {"sms": {"en": near}},
            "web_otp_origins": ["accounts.example.com"],
        }));
        assert_eq!(error.field, "templates.sms.en");
    }

    #[test]
    fn an_origin_that_is_not_a_host_name_is_refused() {
        for origin in [
            "https://example.com",
            "example.com:443",
            "localhost",
            "10.0.0.1",
        ] {
            let error = refusal(serde_json::json!({"web_otp_origins": [origin]}));
            assert_eq!(error.field, "web_otp_origins", "{origin}");
        }
    }

    #[test]
    fn unknown_fields_and_bad_values_are_named() {
        let error = refusal(serde_json::json!({"lenght": 6}));
        assert_eq!(error.profile, "shop");
        assert!(error.detail.contains("lenght"), "{error}");
        let error = refusal(serde_json::json!({"channels": ["fax"]}));
        assert_eq!(error.field, "channels[0]");
        let error = refusal(serde_json::json!({"android_app_hashes": ["short"]}));
        assert_eq!(error.field, "android_app_hashes");
        let error = refusal(serde_json::json!({"templates": {"sms": {"en": "no code here"}}}));
        assert_eq!(error.field, "templates.sms.en");
        let error = refusal(serde_json::json!({"locales": ["en"], "default_locale": "fr"}));
        assert_eq!(error.field, "default_locale");
        let error = parse(r#"{"profiles": {"Shop!": {}}}"#).unwrap_err();
        assert_eq!(error.field, "(name)");
        // A stranger chooses the purpose; a text may show it only from the profile's own list.
        let error =
            refusal(serde_json::json!({"templates": {"sms": {"en": "{code} for {purpose}"}}}));
        assert_eq!(error.field, "templates.sms.en");
        let file = serde_json::json!({"profiles": {"shop": {"purposes": ["login"],
            "templates": {"sms": {"en": "{code} for {purpose}"}}}}});
        parse(&file.to_string()).unwrap();
    }

    #[test]
    fn a_file_default_replaces_the_builtin_one() {
        let profiles = parse(r#"{"profiles": {"default": {"length": 8}}}"#).unwrap();
        assert_eq!(profiles.len(), 1);
        assert_eq!(profiles.default_profile().spec.length.get(), 8);
    }

    #[test]
    fn templates_are_found_by_tag_then_language() {
        let file = serde_json::json!({"profiles": {"shop": {"brand": "Shop", "templates": {"sms": {
            "fr": "{code} est votre code {brand}", "en": "{code} is your {brand} code"}}}}});
        let profiles = parse(&file.to_string()).unwrap();
        let shop = profiles.get(&ProfileName::parse("shop").unwrap()).unwrap();
        let fr_ca = Locale::parse("fr-CA").unwrap();
        assert!(shop.template_for(Channel::Sms, &fr_ca).is_some());
        assert!(shop.template_for(Channel::Email, &fr_ca).is_none());
        assert!(
            shop.template_for(Channel::Sms, &Locale::parse("de").unwrap())
                .is_none()
        );
    }
}

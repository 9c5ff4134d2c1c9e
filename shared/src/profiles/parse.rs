//! The profile file (JSON, see docs/profiles.md) and its rules: every field as written, each
//! parsed into a [`Profile`] and checked, the first problem naming the profile and the field.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{FallbackPolicy, MAX_TTL_SECONDS, Profile, ProfileError, Profiles};
use crate::abuse::TestDestinations;
use crate::domain::{
    Alphabet, AndroidAppHash, BotCheckPolicy, BotCheckProvider, Brand, Channel, CodeLength,
    CodeSpec, GuessBudget, Invalid, Locale, ProfileName, Purpose, Ttl, WebOtpOrigin,
};
use crate::messages::CustomTemplate;

/// The profile file compiled in (the repository's `profiles.json`, or `OTP_PROFILES_FILE` at build
/// time; see build.rs): deploying is how profiles change, and nothing is read at run time.
pub const EMBEDDED: &str = include_str!(env!("OTP_EMBEDDED_PROFILES"));

impl Profiles {
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
        test_destinations: crate::abuse::TestDestinationsParser,
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
            profiles.insert(profile);
        }
        Ok(profiles)
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
        test_destinations: crate::abuse::TestDestinationsParser,
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
#[path = "parse_tests.rs"]
mod tests;

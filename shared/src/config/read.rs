//! Reading the settings from the environment (or any lookup), each variable parsed and bounded.

use std::time::Duration;

use crate::abuse::{SmsRules, TestDestinations, VelocityLimits, VoiceRules};
use crate::crypto::ServiceSecret;
use crate::domain::{
    Alphabet, Brand, CodeLength, CodeSpec, GuessBudget, Invalid, Locale, Money, Ttl,
};
use crate::ports::SendPolicy;
use crate::profiles::{Profile, Profiles};
use crate::proof::ProofSettings;
use crate::settings::Settings;

use super::error::ConfigError;

impl Settings {
    /// Reads the settings through `lookup` (the environment, in production).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(
            lookup,
            TestDestinations::parse,
            TestDestinations::from_pairs,
        )
    }

    /// The settings of a function that never sends (verify, enroll): `OTP_TEST_DESTINATIONS` only
    /// matters when a code is sent, so it is not read. Parsing it means parsing phone numbers, which
    /// would link libphonenumber's metadata (about 2 MiB) into binaries that never use it.
    pub fn from_env_without_sending() -> Result<Self, ConfigError> {
        Self::from_lookup_without_sending(env_var)
    }

    /// [`Self::from_lookup`] for a function that never sends: no test destinations.
    pub fn from_lookup_without_sending(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Self::read(
            lookup,
            |_| Ok(TestDestinations::default()),
            |_| Ok(TestDestinations::default()),
        )
    }

    /// Reads the settings through `lookup`, test destinations through `test_destinations` (generic,
    /// so a binary only links the parser it is given).
    fn read(
        lookup: impl Fn(&str) -> Option<String>,
        test_destinations: impl FnOnce(&str) -> Result<TestDestinations, Invalid>,
        profile_test_destinations: crate::abuse::TestDestinationsParser,
    ) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let number =
            |variable: &'static str, default: u64, range: std::ops::RangeInclusive<u64>| {
                match lookup(variable) {
                    None => Ok(default),
                    Some(raw) => raw
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|n| range.contains(n))
                        .ok_or_else(|| ConfigError {
                            variable,
                            detail: format!(
                                "must be a whole number from {} to {}",
                                range.start(),
                                range.end()
                            ),
                        }),
                }
            };
        fn invalid(variable: &'static str) -> impl Fn(Invalid) -> ConfigError {
            move |e| ConfigError {
                variable,
                detail: e.0,
            }
        }
        // A variable read by a domain parser: `None` when unset, its error named after the variable.
        fn parsed<T>(
            lookup: &impl Fn(&str) -> Option<String>,
            variable: &'static str,
            parse: impl FnOnce(&str) -> Result<T, Invalid>,
        ) -> Result<Option<T>, ConfigError> {
            lookup(variable)
                .map(|raw| parse(&raw).map_err(invalid(variable)))
                .transpose()
        }
        let claim_text = |variable: &'static str, default: String| match lookup(variable) {
            None => Ok(default),
            Some(raw) => {
                let value = raw.trim();
                if value.is_empty()
                    || value.chars().count() > 256
                    || value.chars().any(char::is_control)
                {
                    Err(ConfigError {
                        variable,
                        detail: "must be 1 to 256 characters, no control characters".to_owned(),
                    })
                } else {
                    Ok(value.to_owned())
                }
            }
        };
        let money = |variable: &'static str, default: Money, max: Money| match lookup(variable) {
            None => Ok(default),
            Some(raw) => Money::parse(&raw)
                .ok()
                .filter(|amount| *amount <= max)
                .ok_or_else(|| ConfigError {
                    variable,
                    detail: format!("must be an amount from 0 to {max} with at most 6 decimals"),
                }),
        };
        let policy = defaults.send_policy;
        let builtin = defaults.profiles.default_profile();
        let default_profile = Profile::builtin(
            CodeSpec {
                alphabet: Alphabet::Digits,
                length: CodeLength::parse(number(
                    "OTP_DEFAULT_CODE_LENGTH",
                    builtin.spec.length.get() as u64,
                    6..=10,
                )?)
                .map_err(invalid("OTP_DEFAULT_CODE_LENGTH"))?,
            },
            Ttl::parse(number(
                "OTP_DEFAULT_TTL_SECONDS",
                builtin.ttl.duration().as_secs(),
                Ttl::MIN_SECONDS..=Ttl::MAX_SECONDS,
            )?)
            .map_err(invalid("OTP_DEFAULT_TTL_SECONDS"))?,
            number("OTP_MAX_ATTEMPTS", builtin.max_attempts.into(), 1..=20)? as u32,
            match lookup("OTP_BRAND") {
                None => None,
                Some(raw) if raw.trim().is_empty() => None,
                Some(raw) => Some(Brand::parse(&raw).map_err(invalid("OTP_BRAND"))?),
            },
            parsed(&lookup, "OTP_DEFAULT_LOCALE", |raw| {
                Locale::parse(raw.trim())
            })?
            .unwrap_or_else(|| builtin.default_locale.clone()),
        );
        // The built-in default's SMS must fit one segment like any profile's (OTP_BRAND sets its brand).
        default_profile.check().map_err(|e| ConfigError {
            variable: "OTP_BRAND",
            detail: e.detail,
        })?;
        let profiles = Profiles::parse_with(
            crate::profiles::EMBEDDED,
            default_profile,
            profile_test_destinations,
        )
        .map_err(|e| ConfigError {
            variable: "profiles.json",
            detail: e.to_string(),
        })?;
        let sms = SmsRules {
            allowed_countries: parsed(
                &lookup,
                "OTP_SMS_ALLOWED_COUNTRIES",
                SmsRules::parse_countries,
            )?
            .unwrap_or(defaults.sms.allowed_countries),
            prices: parsed(&lookup, "OTP_SMS_PRICES", SmsRules::parse_prices)?
                .unwrap_or(defaults.sms.prices),
            default_price: money(
                "OTP_SMS_DEFAULT_PRICE",
                defaults.sms.default_price,
                Money::from_micros(100_000_000),
            )?,
            daily_budget: money(
                "OTP_SMS_DAILY_BUDGET",
                defaults.sms.daily_budget,
                Money::from_micros(1_000_000 * 1_000_000),
            )?,
        };
        Ok(Self {
            profiles,
            send_policy: SendPolicy {
                resend_cooldown: Duration::from_secs(number(
                    "OTP_RESEND_COOLDOWN_SECONDS",
                    policy.resend_cooldown.as_secs(),
                    0..=3600,
                )?),
                max_sends: number(
                    "OTP_MAX_SENDS_PER_DESTINATION",
                    policy.max_sends.into(),
                    1..=1000,
                )? as u32,
                window: Duration::from_secs(number(
                    "OTP_SEND_WINDOW_SECONDS",
                    policy.window.as_secs(),
                    60..=86_400,
                )?),
            },
            totp_guess_budget: GuessBudget::new(
                number(
                    "OTP_TOTP_MAX_FAILURES",
                    defaults.totp_guess_budget.per_network.into(),
                    u64::from(*GuessBudget::PER_NETWORK.start())
                        ..=u64::from(*GuessBudget::PER_NETWORK.end()),
                )? as u32,
                Duration::from_secs(number(
                    "OTP_TOTP_LOCKOUT_SECONDS",
                    defaults.totp_guess_budget.lock_for.as_secs(),
                    GuessBudget::MIN_LOCK.as_secs()..=GuessBudget::MAX_LOCK.as_secs(),
                )?),
                number(
                    "OTP_TOTP_MAX_FAILURES_PER_DAY",
                    defaults.totp_guess_budget.per_destination.into(),
                    u64::from(*GuessBudget::PER_DESTINATION.start())
                        ..=u64::from(*GuessBudget::PER_DESTINATION.end()),
                )? as u32,
            )
            .map_err(invalid("OTP_TOTP_MAX_FAILURES"))?,
            proof: ProofSettings {
                issuer: claim_text("OTP_TOKEN_ISSUER", defaults.proof.issuer)?,
                audience: claim_text("OTP_TOKEN_AUDIENCE", defaults.proof.audience)?,
                ttl: Duration::from_secs(number(
                    "OTP_TOKEN_TTL_SECONDS",
                    defaults.proof.ttl.as_secs(),
                    30..=3600,
                )?),
                key_version: number(
                    "OTP_SIGNING_KEY_VERSION",
                    defaults.proof.key_version.into(),
                    1..=1000,
                )? as u32,
            },
            limits: VelocityLimits {
                client_sends_per_hour: number(
                    "OTP_CLIENT_SENDS_PER_HOUR",
                    defaults.limits.client_sends_per_hour.into(),
                    1..=1_000_000,
                )? as u32,
                country_sms_per_hour: number(
                    "OTP_COUNTRY_SMS_PER_HOUR",
                    defaults.limits.country_sms_per_hour.into(),
                    1..=1_000_000,
                )? as u32,
                global_sms_per_hour: number(
                    "OTP_GLOBAL_SMS_PER_HOUR",
                    defaults.limits.global_sms_per_hour.into(),
                    1..=10_000_000,
                )? as u32,
                global_email_per_hour: number(
                    "OTP_GLOBAL_EMAIL_PER_HOUR",
                    defaults.limits.global_email_per_hour.into(),
                    1..=10_000_000,
                )? as u32,
                country_voice_per_hour: number(
                    "OTP_COUNTRY_VOICE_PER_HOUR",
                    defaults.limits.country_voice_per_hour.into(),
                    1..=1_000_000,
                )? as u32,
                global_voice_per_hour: number(
                    "OTP_GLOBAL_VOICE_PER_HOUR",
                    defaults.limits.global_voice_per_hour.into(),
                    1..=10_000_000,
                )? as u32,
                counter_shards: number(
                    "OTP_COUNTER_SHARDS",
                    defaults.limits.counter_shards.into(),
                    1..=u64::from(crate::domain::MAX_SHARDS),
                )? as u16,
            },
            sms: sms.clone(),
            voice: VoiceRules {
                // By default calls may go where SMS may.
                allowed_countries: parsed(
                    &lookup,
                    "OTP_VOICE_ALLOWED_COUNTRIES",
                    SmsRules::parse_countries,
                )?
                .unwrap_or(sms.allowed_countries),
                prices: parsed(&lookup, "OTP_VOICE_PRICES", SmsRules::parse_prices)?
                    .unwrap_or(defaults.voice.prices),
                default_price: money(
                    "OTP_VOICE_DEFAULT_PRICE",
                    defaults.voice.default_price,
                    Money::from_micros(100_000_000),
                )?,
                repeats: number(
                    "OTP_VOICE_REPEATS",
                    defaults.voice.repeats.into(),
                    1..=u64::from(crate::messages::MAX_REPEATS),
                )? as u8,
            },
            test_destinations: parsed(&lookup, "OTP_TEST_DESTINATIONS", test_destinations)?
                .unwrap_or_default(),
            metrics_namespace: metrics_namespace(&lookup)?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_var)
    }
}

/// `OTP_METRICS_NAMESPACE` from `lookup`, else the default: what every function's metrics are
/// written under, the events function's too (which reads nothing else).
pub fn metrics_namespace(lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let Some(raw) = lookup("OTP_METRICS_NAMESPACE") else {
        return Ok(crate::settings::DEFAULT_METRICS_NAMESPACE.to_owned());
    };
    let namespace = raw.trim();
    // CloudWatch: 1–255 of letters, digits and . - _ / # : (no leading colon).
    let allowed = |c: char| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c);
    if namespace.len() > 255 || namespace.starts_with(':') || !namespace.chars().all(allowed) {
        return Err(ConfigError {
            variable: "OTP_METRICS_NAMESPACE",
            detail: "must be 1 to 255 letters, digits, spaces or . - _ / # :".to_owned(),
        });
    }
    Ok(namespace.to_owned())
}

/// `OTP_SECRET` from the environment: `None` when unset, an error when set but unusable.
pub fn service_secret_from_env() -> Result<Option<ServiceSecret>, ConfigError> {
    env_var("OTP_SECRET")
        .map(|value| {
            ServiceSecret::parse(&value).map_err(|e| ConfigError {
                variable: "OTP_SECRET",
                detail: e.to_string(),
            })
        })
        .transpose()
}

/// A variable from the environment; set but empty counts as unset (templates pass "" for "none").
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = settings(&[]).unwrap();
        let default = s.profiles.default_profile();
        assert_eq!(default.max_attempts, 5);
        assert_eq!(s.send_policy.resend_cooldown, Duration::from_secs(30));
        assert_eq!(s.send_policy.max_sends, 5);
        assert_eq!(s.send_policy.window, Duration::from_secs(900));
        assert_eq!(default.ttl.duration(), Duration::from_secs(300));
        assert_eq!(default.spec.length.get(), 6);
        assert_eq!(default.default_locale.as_str(), "en");
        assert!(default.brand.is_none());
    }

    #[test]
    fn variables_override_defaults() {
        let s = settings(&[
            ("OTP_MAX_ATTEMPTS", "3"),
            ("OTP_RESEND_COOLDOWN_SECONDS", "0"),
            ("OTP_MAX_SENDS_PER_DESTINATION", "10"),
            ("OTP_SEND_WINDOW_SECONDS", "3600"),
            ("OTP_DEFAULT_TTL_SECONDS", "120"),
            ("OTP_DEFAULT_CODE_LENGTH", "8"),
            ("OTP_DEFAULT_LOCALE", "fr-CA"),
            ("OTP_BRAND", "Acme"),
        ])
        .unwrap();
        let default = s.profiles.default_profile().clone();
        assert_eq!(default.max_attempts, 3);
        assert_eq!(s.send_policy.resend_cooldown, Duration::ZERO);
        assert_eq!(s.send_policy.max_sends, 10);
        assert_eq!(s.send_policy.window, Duration::from_secs(3600));
        assert_eq!(default.ttl.minutes(), 2);
        assert_eq!(default.spec.length.get(), 8);
        assert_eq!(default.default_locale.language(), "fr");
        assert_eq!(default.brand.as_ref().unwrap().as_str(), "Acme");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases = [
            ("OTP_MAX_ATTEMPTS", "0"),
            ("OTP_MAX_ATTEMPTS", "many"),
            ("OTP_SEND_WINDOW_SECONDS", "10"),
            ("OTP_DEFAULT_TTL_SECONDS", "5"),
            // Above NIST SP 800-63B's 10 minutes, and below OWASP's 6 digits.
            ("OTP_DEFAULT_TTL_SECONDS", "1200"),
            ("OTP_DEFAULT_CODE_LENGTH", "12"),
            ("OTP_DEFAULT_CODE_LENGTH", "4"),
            ("OTP_DEFAULT_LOCALE", "not a locale"),
            ("OTP_BRAND", &"x".repeat(40)),
        ];
        for (variable, value) in cases {
            let err = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable, "{value}");
        }
    }

    #[test]
    fn a_function_that_never_sends_reads_everything_but_the_test_destinations() {
        let lookup = |name: &str| match name {
            "OTP_TEST_DESTINATIONS" => Some("+12025550143=12345678".to_owned()),
            "OTP_MAX_ATTEMPTS" => Some("7".to_owned()),
            _ => None,
        };
        let sending = Settings::from_lookup(lookup).unwrap();
        let checking = Settings::from_lookup_without_sending(lookup).unwrap();
        assert_eq!(sending.test_destinations.len(), 1);
        assert!(checking.test_destinations.is_empty());
        assert_eq!(checking.profiles.default_profile().max_attempts, 7);
        // Everything else is still read and checked.
        let bad = |name: &str| (name == "OTP_MAX_ATTEMPTS").then(|| "zero".to_owned());
        assert!(Settings::from_lookup_without_sending(bad).is_err());
    }

    #[test]
    fn abuse_defences_are_configurable_and_test_destinations_off_by_default() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.limits.client_sends_per_hour, 20);
        assert_eq!(s.limits.country_sms_per_hour, 200);
        assert_eq!(s.limits.global_sms_per_hour, 1000);
        assert_eq!(s.limits.global_email_per_hour, 2000);
        assert_eq!(s.sms.daily_budget.to_string(), "100.00");
        assert_eq!(s.sms.default_price.to_string(), "0.10");
        assert!(s.sms.prices.is_empty());
        assert!(s.test_destinations.is_empty());
        assert_eq!(s.metrics_namespace, "OtpLambda");

        let s = settings(&[
            ("OTP_CLIENT_SENDS_PER_HOUR", "5"),
            ("OTP_COUNTRY_SMS_PER_HOUR", "50"),
            ("OTP_GLOBAL_SMS_PER_HOUR", "500"),
            ("OTP_GLOBAL_EMAIL_PER_HOUR", "700"),
            ("OTP_SMS_ALLOWED_COUNTRIES", "gb, IE"),
            ("OTP_SMS_DAILY_BUDGET", "12.5"),
            ("OTP_SMS_PRICES", "GB=0.0395"),
            ("OTP_SMS_DEFAULT_PRICE", "0.2"),
            ("OTP_TEST_DESTINATIONS", "+12025550143=13579024"),
            ("OTP_METRICS_NAMESPACE", "OtpLambda/prod"),
        ])
        .unwrap();
        assert_eq!(s.limits.client_sends_per_hour, 5);
        assert_eq!(s.limits.country_sms_per_hour, 50);
        assert_eq!(s.limits.global_sms_per_hour, 500);
        assert_eq!(s.limits.global_email_per_hour, 700);
        let countries: Vec<_> = s
            .sms
            .allowed_countries
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(countries, ["GB", "IE"]);
        assert_eq!(s.sms.daily_budget.to_string(), "12.50");
        assert_eq!(s.sms.default_price.to_string(), "0.20");
        assert_eq!(s.sms.prices.len(), 1);
        assert_eq!(s.test_destinations.len(), 1);
        assert_eq!(s.metrics_namespace, "OtpLambda/prod");
    }

    #[test]
    fn calls_go_where_sms_goes_unless_told_and_have_their_own_limits_and_prices() {
        let s = settings(&[("OTP_SMS_ALLOWED_COUNTRIES", "GB,IE")]).unwrap();
        assert_eq!(s.voice.allowed_countries, s.sms.allowed_countries);
        assert_eq!(s.voice.repeats, 2);
        assert_eq!(s.voice.default_price.to_string(), "0.10");
        assert_eq!(
            (
                s.limits.country_voice_per_hour,
                s.limits.global_voice_per_hour
            ),
            (40, 200)
        );
        let s = settings(&[
            ("OTP_SMS_ALLOWED_COUNTRIES", "GB,IE"),
            ("OTP_VOICE_ALLOWED_COUNTRIES", "US"),
            ("OTP_VOICE_PRICES", "US=0.013"),
            ("OTP_VOICE_DEFAULT_PRICE", "0.25"),
            ("OTP_VOICE_REPEATS", "3"),
            ("OTP_COUNTRY_VOICE_PER_HOUR", "5"),
            ("OTP_GLOBAL_VOICE_PER_HOUR", "9"),
        ])
        .unwrap();
        let countries: Vec<_> = s
            .voice
            .allowed_countries
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(countries, ["US"]);
        assert_eq!(s.sms.allowed_countries.len(), 2, "the SMS list is its own");
        assert_eq!(s.voice.prices.len(), 1);
        assert_eq!(s.voice.default_price.to_string(), "0.25");
        assert_eq!(s.voice.repeats, 3);
        assert_eq!(
            (
                s.limits.country_voice_per_hour,
                s.limits.global_voice_per_hour
            ),
            (5, 9)
        );
        for (variable, value) in [
            ("OTP_VOICE_REPEATS", "0"),
            ("OTP_VOICE_REPEATS", "4"),
            ("OTP_VOICE_ALLOWED_COUNTRIES", "XX"),
            ("OTP_VOICE_PRICES", "US:1"),
            ("OTP_VOICE_DEFAULT_PRICE", "101"),
            ("OTP_COUNTRY_VOICE_PER_HOUR", "0"),
        ] {
            assert_eq!(
                settings(&[(variable, value)]).unwrap_err().variable,
                variable,
                "{value}"
            );
        }
    }

    #[test]
    fn bad_abuse_settings_name_their_variable_and_never_echo_a_test_code() {
        for (variable, value) in [
            ("OTP_CLIENT_SENDS_PER_HOUR", "0"),
            ("OTP_SMS_ALLOWED_COUNTRIES", "GB,XX"),
            ("OTP_SMS_ALLOWED_COUNTRIES", ","),
            ("OTP_SMS_DAILY_BUDGET", "-1"),
            ("OTP_SMS_DEFAULT_PRICE", "101"),
            ("OTP_SMS_PRICES", "GB:0.04"),
            ("OTP_TEST_DESTINATIONS", "+12025550143=97531x!"),
            ("OTP_METRICS_NAMESPACE", "bad{namespace}"),
        ] {
            let err = settings(&[(variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable, "{value}");
            assert!(!err.to_string().contains("97531"), "{err}");
        }
    }

    #[test]
    fn every_variable_read_is_documented() {
        let documented: Vec<_> = Settings::VARIABLES.iter().map(|(name, ..)| *name).collect();
        let read = std::sync::Mutex::new(Vec::new());
        let _ = Settings::from_lookup(|name| {
            read.lock().unwrap().push(name.to_owned());
            None
        });
        for name in read.into_inner().unwrap() {
            assert!(
                documented.contains(&name.as_str()),
                "{name} is read but not documented"
            );
        }
    }
}

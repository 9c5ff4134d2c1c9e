//! The rules every profile meets, the file's and the built-in one's alike: the code's strength,
//! its lifetime, and every SMS it can send in one segment.

use super::{FallbackPolicy, Profile, ProfileError};
use crate::domain::{
    Alphabet, Brand, Channel, Code, CodeAttempt, CodeLength, CodeSpec, Locale, Purpose, SmsBinding,
    Transaction, Ttl,
};
use crate::messages::{self, CustomTemplate, MessageInput};

/// The longest lifetime a profile may give a sent code: NIST SP 800-63B caps out-of-band codes at
/// 10 minutes.
pub const MAX_TTL_SECONDS: u64 = 600;

/// The weakest code a profile may have: as many combinations as 6 random digits (about 20 bits, the
/// OWASP ASVS 2.7.6 floor).
pub const MIN_COMBINATIONS: u128 = 1_000_000;

impl Profile {
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
        if self.fallback == FallbackPolicy::Voice
            && !(self.channels.contains(&Channel::Sms) && self.channels.contains(&Channel::Voice))
        {
            return Err(at(
                "fallback",
                "\"voice\" needs both \"sms\" and \"voice\" in the profile's channels".to_owned(),
            ));
        }
        if let Some((_, locale, _)) = self.templates.iter().find(|(c, _, _)| *c == Channel::Voice) {
            return Err(at(
                &format!("templates.voice.{}", locale.as_str()),
                "a call says the built-in words in the locale's language; templates are for SMS and email".to_owned(),
            ));
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
            voice_repeats: messages::DEFAULT_REPEATS,
        },
    );
    messages::sms_size(&rendered.text).segments
}

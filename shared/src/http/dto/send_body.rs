//! `POST /v1/otp/send` and `POST /v1/server/otp/send`: the fields they accept, and the body's
//! conversion to a send request within its profile's lists and bounds.

use serde::Deserialize;

use super::fields::{STRING, at, optional, required};
use crate::config::Settings;
use crate::domain::{
    Alphabet, AndroidAppHash, Brand, CaptchaToken, Channel, CodeLength, CodeSpec, Destination,
    EmailAddress, Locale, Purpose, Reference, SmsBinding, Transaction, Ttl, WebOtpOrigin,
};
use crate::http::ApiError;
use crate::http::body::Field;
use crate::messages::{CustomTemplate, MAX_SMS_SEGMENTS};
use crate::profiles::{self, FallbackPolicy, Profile, ProfileName, combinations};
use crate::usecases::{Requester, SendRequest};

pub const SEND_FIELDS: &[Field] = &[
    Field {
        name: "profile",
        expected: "the name of one of the service's profiles",
    },
    Field {
        name: "channel",
        expected: "\"sms\" or \"email\"",
    },
    Field {
        name: "to",
        expected: STRING,
    },
    Field {
        name: "purpose",
        expected: STRING,
    },
    Field {
        name: "length",
        expected: "a whole number from 4 to 10",
    },
    Field {
        name: "alphabet",
        expected: "\"digits\", \"letters\" or \"alphanumeric\"",
    },
    Field {
        name: "ttl_seconds",
        expected: "a whole number of seconds from 30 to 600",
    },
    Field {
        name: "template",
        expected: STRING,
    },
    Field {
        name: "brand",
        expected: STRING,
    },
    Field {
        name: "locale",
        expected: STRING,
    },
    Field {
        name: "reference",
        expected: STRING,
    },
    Field {
        name: "origin",
        expected: "a host name such as example.com",
    },
    Field {
        name: "app_hash",
        expected: "an 11-character Android app hash",
    },
    Field {
        name: "fallback",
        expected: "an object {\"channel\": \"email\", \"to\": an email address}",
    },
    Field {
        name: "transaction",
        expected: "an object {\"amount\": \"12.50\", \"currency\": \"EUR\", \"payee\": \"Acme Ltd\"}",
    },
    Field {
        name: "captcha_token",
        expected: "the bot-check widget's token, a string",
    },
];

/// The fields only the app's backend may set, on `POST /v1/server/otp/send`: each changes a code's
/// strength or lifetime, the message text, or what the approval is bound to.
pub const SERVER_ONLY_SEND_FIELDS: &[&str] = &[
    "length",
    "alphabet",
    "ttl_seconds",
    "template",
    "brand",
    "reference",
    "transaction",
];

/// `POST /v1/otp/send` and `POST /v1/server/otp/send`. Every field is optional here so that a
/// missing one is reported by name.
#[derive(Debug, Deserialize)]
pub struct SendBody {
    profile: Option<String>,
    channel: Option<String>,
    to: Option<String>,
    purpose: Option<String>,
    length: Option<u64>,
    alphabet: Option<String>,
    ttl_seconds: Option<u64>,
    template: Option<String>,
    brand: Option<String>,
    locale: Option<String>,
    reference: Option<String>,
    origin: Option<String>,
    app_hash: Option<String>,
    fallback: Option<FallbackBody>,
    transaction: Option<TransactionBody>,
    captcha_token: Option<String>,
}

/// The payment a server send's code confirms.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionBody {
    amount: String,
    currency: String,
    payee: String,
}

/// Where an SMS goes instead when it is refused or fails: email only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FallbackBody {
    channel: String,
    to: String,
}

/// A value the profile's list does not have.
fn not_allowed(field: &str, profile: &Profile) -> ApiError {
    ApiError::invalid(
        field,
        format!("is not one the profile `{}` allows", profile.name),
    )
}

impl SendBody {
    /// The send this body asks for, within its profile's lists and bounds. On the public route
    /// (`server` false) the handler has already refused every [`SERVER_ONLY_SEND_FIELDS`] field.
    pub fn into_request(
        self,
        settings: &Settings,
        client: Option<std::net::IpAddr>,
        server: bool,
    ) -> Result<SendRequest, ApiError> {
        let profile = match self.profile {
            None => settings.profiles.default_profile().clone(),
            Some(name) => ProfileName::parse(&name)
                .ok()
                .and_then(|name| settings.profiles.get(&name).cloned())
                .ok_or_else(|| ApiError::invalid("profile", "is not a profile of this service"))?,
        };
        let channel = match required(self.channel, "channel")?.as_str() {
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            "voice" => Channel::Voice,
            _ => {
                return Err(ApiError::invalid(
                    "channel",
                    "must be \"sms\", \"email\" or \"voice\"",
                ));
            }
        };
        if !profile.channels.contains(&channel) {
            return Err(not_allowed("channel", &profile));
        }
        let to = required(self.to, "to")?;
        let destination = Destination::parse(channel, &to).map_err(at("to"))?;
        let purpose = match optional(self.purpose, "purpose", Purpose::parse)? {
            Some(purpose) => {
                if profile
                    .purposes
                    .as_ref()
                    .is_some_and(|allowed| !allowed.contains(&purpose))
                {
                    return Err(not_allowed("purpose", &profile));
                }
                purpose
            }
            None => profile
                .purposes
                .as_ref()
                .and_then(|allowed| allowed.first().cloned())
                .unwrap_or_default(),
        };
        let locale = match optional(self.locale, "locale", Locale::parse)? {
            Some(locale) => {
                let listed = |l: &Locale| {
                    l.as_str().eq_ignore_ascii_case(locale.as_str())
                        || l.as_str().eq_ignore_ascii_case(locale.language())
                };
                if profile
                    .locales
                    .as_ref()
                    .is_some_and(|allowed| !allowed.iter().any(listed))
                {
                    return Err(not_allowed("locale", &profile));
                }
                locale
            }
            None => profile.default_locale.clone(),
        };
        // Only an SMS carries them; an email (or a fallback email) ignores them. Only the
        // profile's own origins and app hashes: the SMS offers its code to whichever it names.
        let sms_binding = SmsBinding {
            origin: optional(self.origin, "origin", WebOtpOrigin::parse)?,
            app_hash: optional(self.app_hash, "app_hash", AndroidAppHash::parse)?,
        };
        if sms_binding
            .origin
            .as_ref()
            .is_some_and(|o| !profile.web_otp_origins.contains(o))
        {
            return Err(not_allowed("origin", &profile));
        }
        if sms_binding
            .app_hash
            .as_ref()
            .is_some_and(|h| !profile.android_app_hashes.contains(h))
        {
            return Err(not_allowed("app_hash", &profile));
        }
        let fallback = match self.fallback {
            None => None,
            Some(_) if profile.fallback != FallbackPolicy::Email => {
                return Err(not_allowed("fallback", &profile));
            }
            Some(_) if channel != Channel::Sms => {
                return Err(ApiError::invalid("fallback", "applies to SMS sends only"));
            }
            Some(FallbackBody { channel, .. }) if channel != "email" => {
                return Err(ApiError::invalid(
                    "fallback",
                    "must have \"channel\": \"email\" (the only fallback channel)",
                ));
            }
            Some(FallbackBody { to, .. }) => Some(
                EmailAddress::parse(&to)
                    .map_err(|e| ApiError::invalid("fallback", format!("`to` {e}")))?,
            ),
        };
        // The backend's choices, within the profile's bounds: never a weaker code, never a longer life.
        let alphabet = match self.alphabet.as_deref() {
            None => profile.spec.alphabet,
            Some("digits") => Alphabet::Digits,
            Some("letters") => Alphabet::Letters,
            Some("alphanumeric") => Alphabet::Alphanumeric,
            Some(_) => {
                return Err(ApiError::invalid(
                    "alphabet",
                    "must be \"digits\", \"letters\" or \"alphanumeric\"",
                ));
            }
        };
        let length = match self.length {
            Some(n) => CodeLength::parse(n).map_err(at("length"))?,
            None => profile.spec.length,
        };
        let spec = CodeSpec { alphabet, length };
        if combinations(spec) < profile.combinations() {
            let field = if self.length.is_some() {
                "length"
            } else {
                "alphabet"
            };
            return Err(ApiError::invalid(
                field,
                format!(
                    "would make a weaker code than the profile `{}` allows ({} {:?})",
                    profile.name,
                    profile.spec.length.get(),
                    profile.spec.alphabet
                ),
            ));
        }
        let ttl = match self.ttl_seconds {
            Some(n) => {
                let ttl = Ttl::parse(n).map_err(at("ttl_seconds"))?;
                if ttl > profile.ttl {
                    return Err(ApiError::invalid(
                        "ttl_seconds",
                        format!(
                            "must be at most {} seconds, the profile `{}`'s lifetime",
                            profile.ttl.duration().as_secs(),
                            profile.name
                        ),
                    ));
                }
                ttl
            }
            None => profile.ttl,
        };
        let template = optional(self.template, "template", CustomTemplate::parse)?;
        let brand = optional(self.brand, "brand", Brand::parse)?;
        let brand = brand.or_else(|| profile.brand.clone());
        if brand.is_none() && template.as_ref().is_some_and(CustomTemplate::uses_brand) {
            return Err(ApiError::invalid(
                "brand",
                "is required when the template uses {brand} and the profile has no brand",
            ));
        }
        // A call says the built-in words: a text written to be read is not one to hear, and a
        // payment must be shown, not half-heard.
        if channel == Channel::Voice && template.is_some() {
            return Err(ApiError::invalid(
                "template",
                "applies to SMS and email; a call says the built-in words",
            ));
        }
        let reference = optional(self.reference, "reference", Reference::parse)?;
        let transaction = match self.transaction {
            None => None,
            Some(_) if channel == Channel::Voice => {
                return Err(ApiError::invalid(
                    "transaction",
                    "cannot be confirmed by a call: send it by SMS or email, which show the payment",
                ));
            }
            Some(_) if profile.transaction_template.is_none() => {
                return Err(ApiError::invalid(
                    "transaction",
                    format!(
                        "needs a transaction_template in the profile `{}`, to show it in the message",
                        profile.name
                    ),
                ));
            }
            Some(_) if template.is_some() => {
                return Err(ApiError::invalid(
                    "template",
                    "cannot be sent with a transaction: the profile's transaction template writes the message",
                ));
            }
            Some(TransactionBody {
                amount,
                currency,
                payee,
            }) => Some(
                Transaction::parse(&amount, &currency, &payee).map_err(|(part, e)| {
                    ApiError::invalid("transaction", format!("`{part}` {e}"))
                })?,
            ),
        };
        // The backend's choices (text, brand, a longer code) are checked send by send; the
        // profile's own texts were checked at load.
        if server && channel == Channel::Sms {
            let text = if transaction.is_some() {
                profile.transaction_template.as_ref()
            } else {
                template
                    .as_ref()
                    .or_else(|| profile.template_for(Channel::Sms, &locale))
            };
            let segments = profiles::sms_segments(
                text,
                brand.as_ref(),
                length,
                &purpose,
                &locale,
                &sms_binding,
                transaction.as_ref(),
            );
            if segments > MAX_SMS_SEGMENTS {
                let field = if transaction.is_some() {
                    "transaction"
                } else if template.is_some() {
                    "template"
                } else {
                    "brand"
                };
                return Err(ApiError::invalid(
                    field,
                    format!("makes an SMS of {segments} segments; it must fit one"),
                ));
            }
        }
        // Read only where it is checked: a public send under a profile with a bot check. Anywhere
        // else it is ignored (the backend is trusted; a profile without a check has nothing to
        // check it against), so a front end may send it before or after its profile asks for it.
        let captcha_token = match &profile.bot_check {
            Some(_) if !server => {
                let token = self.captcha_token.ok_or_else(|| {
                    ApiError::invalid(
                        "captcha_token",
                        format!(
                            "is required: the profile `{}` has a bot check; send the widget's token",
                            profile.name
                        ),
                    )
                })?;
                Some(CaptchaToken::parse(&token).map_err(at("captcha_token"))?)
            }
            _ => None,
        };
        Ok(SendRequest {
            captcha_token,
            profile,
            destination,
            purpose,
            spec,
            ttl,
            template,
            brand,
            locale,
            reference,
            transaction,
            client,
            requester: Requester::Browser(client),
            fallback,
            sms_binding,
            idempotency: None,
        })
    }
}

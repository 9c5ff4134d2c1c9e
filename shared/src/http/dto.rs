//! The wire shapes of each route and their conversion to and from the domain.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ApiError;
use super::body::Field;
use crate::config::Settings;
use crate::domain::{
    Alphabet, AndroidAppHash, Brand, CaptchaToken, ChallengeId, Channel, CodeAttempt, CodeLength,
    CodeSpec, Destination, EmailAddress, Invalid, Locale, Purpose, Reference, SmsBinding,
    Transaction, Ttl, UserId, WebOtpOrigin,
};
use crate::messages::{CustomTemplate, MAX_SMS_SEGMENTS};
use crate::ports::VerifyOutcome;
use crate::profiles::{self, FallbackPolicy, Profile, ProfileName, combinations};
use crate::usecases::{
    Requester, SendReceipt, SendRequest, TotpProof, TotpVerifyRequest, Verification, VerifyRequest,
};

pub(super) const STRING: &str = "a string";

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

pub(super) fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(field, "is required"))
}

pub(super) fn at(field: &'static str) -> impl Fn(Invalid) -> ApiError {
    move |invalid| ApiError::invalid(field, invalid.0)
}

pub(super) fn optional<T>(
    value: Option<String>,
    field: &'static str,
    parse: impl Fn(&str) -> Result<T, Invalid>,
) -> Result<Option<T>, ApiError> {
    value.map(|v| parse(&v)).transpose().map_err(at(field))
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
            _ => return Err(ApiError::invalid("channel", "must be \"sms\" or \"email\"")),
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
        let reference = optional(self.reference, "reference", Reference::parse)?;
        let transaction = match self.transaction {
            None => None,
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

/// The 202 reply to a send.
#[derive(Debug, Serialize)]
pub struct SendReply {
    id: String,
    channel: Channel,
    to: String,
    purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    resend_at: OffsetDateTime,
    attempts_remaining: u32,
    /// Present when the SMS gave way to the fallback email.
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<FallbackReply>,
}

#[derive(Debug, Serialize)]
struct FallbackReply {
    from: Channel,
    reason: &'static str,
}

impl From<SendReceipt> for SendReply {
    fn from(receipt: SendReceipt) -> Self {
        Self {
            id: receipt.id.as_str().to_owned(),
            channel: receipt.channel,
            to: receipt.masked_to,
            purpose: receipt.purpose.as_str().to_owned(),
            reference: receipt.reference.map(|r| r.as_str().to_owned()),
            expires_at: whole_seconds(receipt.expires_at),
            resend_at: whole_seconds(receipt.resend_at),
            attempts_remaining: receipt.attempts_remaining,
            fallback: receipt.fell_back.map(|reason| FallbackReply {
                from: Channel::Sms,
                reason: reason.as_str(),
            }),
        }
    }
}

/// Timestamps are shown to the second (rounded down; never later than the real instant).
pub(super) fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).expect("0 is a valid nanosecond")
}

pub const VERIFY_FIELDS: &[Field] = &[
    Field {
        name: "id",
        expected: STRING,
    },
    Field {
        name: "code",
        expected: STRING,
    },
    Field {
        name: "challenge_id",
        expected: STRING,
    },
    Field {
        name: "user_id",
        expected: STRING,
    },
    Field {
        name: "recovery_code",
        expected: STRING,
    },
];

/// `POST /v1/otp/verify` and `POST /v1/server/otp/verify`: a sent code (`id` + `code`), or an
/// authenticator or recovery code for the user of a challenge the backend issued (`challenge_id` +
/// `code` or `recovery_code`); the backend alone may name the user (`user_id`).
#[derive(Debug, Deserialize)]
pub struct VerifyBody {
    id: Option<String>,
    code: Option<String>,
    challenge_id: Option<String>,
    user_id: Option<String>,
    recovery_code: Option<String>,
}

/// Which kind of verify a body asks for.
#[derive(Debug)]
pub enum VerifyKind {
    Challenge(VerifyRequest),
    Totp(TotpVerifyRequest),
    /// A TOTP verify whose user the challenge names, once opened.
    TotpChallenge {
        challenge_id: String,
        proof: TotpProof,
    },
}

impl VerifyBody {
    pub fn into_request(self, server: bool) -> Result<VerifyKind, ApiError> {
        let named = [
            ("id", self.id.is_some()),
            ("challenge_id", self.challenge_id.is_some()),
            ("user_id", self.user_id.is_some()),
        ];
        if !server && self.user_id.is_some() {
            // The same answer for every user, enrolled or not: nothing to enumerate, nobody to lock out.
            return Err(ApiError::invalid(
                "user_id",
                "is accepted only from your backend, on POST /v1/server/otp/verify; send the challenge_id your backend got from POST /v1/server/totp/challenge",
            ));
        }
        if named.iter().filter(|(_, given)| *given).count() > 1 {
            let (second, _) = named
                .iter()
                .filter(|(_, given)| *given)
                .nth(1)
                .expect("two");
            return Err(ApiError::invalid(
                second,
                "cannot be sent with another of id, challenge_id and user_id: send one",
            ));
        }
        let totp_proof = |code: Option<String>, recovery: Option<String>| {
            Ok(match (code, recovery) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::invalid(
                        "recovery_code",
                        "cannot be sent with code: send one or the other",
                    ));
                }
                (Some(code), None) => {
                    TotpProof::Code(CodeAttempt::parse(&code).map_err(at("code"))?)
                }
                (None, Some(code)) => {
                    TotpProof::RecoveryCode(CodeAttempt::parse(&code).map_err(at("recovery_code"))?)
                }
                (None, None) => {
                    return Err(ApiError::invalid("code", "is required (or recovery_code)"));
                }
            })
        };
        if let Some(id) = self.id {
            if self.recovery_code.is_some() {
                return Err(ApiError::invalid(
                    "recovery_code",
                    "goes with challenge_id, not with id",
                ));
            }
            let id = ChallengeId::parse(&id).map_err(at("id"))?;
            let code = CodeAttempt::parse(&required(self.code, "code")?).map_err(at("code"))?;
            return Ok(VerifyKind::Challenge(VerifyRequest {
                id,
                code,
                // The handler names the caller.
                requester: Requester::Browser(None),
            }));
        }
        if let Some(challenge_id) = self.challenge_id {
            if challenge_id.is_empty() || challenge_id.len() > 512 {
                return Err(ApiError::invalid(
                    "challenge_id",
                    "is not a challenge this service issued",
                ));
            }
            let proof = totp_proof(self.code, self.recovery_code)?;
            return Ok(VerifyKind::TotpChallenge {
                challenge_id,
                proof,
            });
        }
        if let Some(user_id) = self.user_id {
            let user_id = UserId::parse(&user_id).map_err(at("user_id"))?;
            let proof = totp_proof(self.code, self.recovery_code)?;
            return Ok(VerifyKind::Totp(TotpVerifyRequest {
                user_id,
                proof,
                enrollment_id: None,
                // The handler sets who asks.
                requester: Requester::Browser(None),
            }));
        }
        Err(ApiError::invalid(
            "id",
            if server {
                "is required (or challenge_id or user_id, to check an authenticator app's code)"
            } else {
                "is required (or challenge_id, to check an authenticator app's code)"
            },
        ))
    }
}

/// The reply to a verify, whatever its outcome.
#[derive(Debug, Serialize)]
pub struct VerifyReply {
    status: &'static str,
    id: String,
    detail: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction: Option<Transaction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_remaining: Option<u32>,
    /// The end of a lock on guessing, rounded up to a whole second.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    locked_until: Option<OffsetDateTime>,
    /// The signed proof of an approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl VerifyReply {
    pub fn new(id: &ChallengeId, verification: &Verification) -> Self {
        let outcome = &verification.outcome;
        let mut reply = Self {
            status: outcome.status(),
            id: id.as_str().to_owned(),
            detail: match outcome {
                VerifyOutcome::Approved(_) => "The code is correct.",
                VerifyOutcome::Incorrect { .. } => "The code is not correct.",
                VerifyOutcome::Expired => {
                    "The code is no longer valid: it expired, a newer code was sent, or it could not be delivered."
                }
                VerifyOutcome::Locked => "Too many wrong attempts; ask for a new code.",
                VerifyOutcome::LockedOut { .. } => {
                    "Too many wrong codes were tried for this destination from here; try again after the time in Retry-After."
                }
                VerifyOutcome::Consumed => "The code has already been used.",
                VerifyOutcome::NotFound => "There is no code with this id.",
            },
            purpose: None,
            reference: None,
            channel: None,
            to: None,
            transaction: None,
            attempts_remaining: None,
            locked_until: None,
            token: verification.token.clone(),
        };
        match outcome {
            VerifyOutcome::Approved(approved) => {
                reply.purpose = Some(approved.purpose.as_str().to_owned());
                reply.reference = approved.reference.as_ref().map(|r| r.as_str().to_owned());
                reply.channel = Some(approved.channel);
                reply.to = Some(approved.masked_to.clone());
                reply.transaction = approved.transaction.clone();
            }
            VerifyOutcome::LockedOut { until } => {
                reply.locked_until = Some(super::totp_dto::round_up(*until));
            }
            VerifyOutcome::Incorrect {
                attempts_remaining, ..
            } => {
                reply.attempts_remaining = Some(*attempts_remaining);
            }
            _ => {}
        }
        reply
    }
}

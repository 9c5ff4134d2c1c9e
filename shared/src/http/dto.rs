//! The wire shapes of each route and their conversion to and from the domain.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ApiError;
use super::body::Field;
use crate::config::Settings;
use crate::domain::{
    Alphabet, AndroidAppHash, Brand, ChallengeId, Channel, CodeAttempt, CodeLength, CodeSpec,
    Destination, EmailAddress, Invalid, Locale, Purpose, Reference, SmsBinding, Ttl, UserId,
    WebOtpOrigin,
};
use crate::messages::CustomTemplate;
use crate::ports::VerifyOutcome;
use crate::usecases::{
    SendReceipt, SendRequest, TotpProof, TotpVerifyRequest, Verification, VerifyRequest,
};

pub(super) const STRING: &str = "a string";

pub const SEND_FIELDS: &[Field] = &[
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
        expected: "a whole number of seconds from 30 to 3600",
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
];

/// `POST /v1/otp/send`. Every field is optional here so that a missing one is reported by name.
#[derive(Debug, Deserialize)]
pub struct SendBody {
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

impl SendBody {
    pub fn into_request(
        self,
        settings: &Settings,
        client: Option<std::net::IpAddr>,
    ) -> Result<SendRequest, ApiError> {
        let channel = match required(self.channel, "channel")?.as_str() {
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            _ => return Err(ApiError::invalid("channel", "must be \"sms\" or \"email\"")),
        };
        let to = required(self.to, "to")?;
        let destination = Destination::parse(channel, &to).map_err(at("to"))?;
        let purpose = optional(self.purpose, "purpose", Purpose::parse)?.unwrap_or_default();
        let length = match self.length {
            Some(n) => CodeLength::parse(n).map_err(at("length"))?,
            None => settings.default_length,
        };
        let alphabet = match self.alphabet.as_deref() {
            None | Some("digits") => Alphabet::Digits,
            Some("letters") => Alphabet::Letters,
            Some("alphanumeric") => Alphabet::Alphanumeric,
            Some(_) => {
                return Err(ApiError::invalid(
                    "alphabet",
                    "must be \"digits\", \"letters\" or \"alphanumeric\"",
                ));
            }
        };
        let ttl = match self.ttl_seconds {
            Some(n) => Ttl::parse(n).map_err(at("ttl_seconds"))?,
            None => settings.default_ttl,
        };
        let template = optional(self.template, "template", CustomTemplate::parse)?;
        let brand = optional(self.brand, "brand", Brand::parse)?.or_else(|| settings.brand.clone());
        if brand.is_none() && template.as_ref().is_some_and(CustomTemplate::uses_brand) {
            return Err(ApiError::invalid(
                "brand",
                "is required when the template uses {brand} and no default brand is configured",
            ));
        }
        let locale = optional(self.locale, "locale", Locale::parse)?
            .unwrap_or_else(|| settings.default_locale.clone());
        let reference = optional(self.reference, "reference", Reference::parse)?;
        // Only an SMS carries them; an email (or a fallback email) ignores them.
        let sms_binding = SmsBinding {
            origin: optional(self.origin, "origin", WebOtpOrigin::parse)?,
            app_hash: optional(self.app_hash, "app_hash", AndroidAppHash::parse)?,
        };
        let fallback = match self.fallback {
            None => None,
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
        Ok(SendRequest {
            destination,
            purpose,
            spec: CodeSpec { alphabet, length },
            ttl,
            template,
            brand,
            locale,
            reference,
            client,
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
        name: "user_id",
        expected: STRING,
    },
    Field {
        name: "recovery_code",
        expected: STRING,
    },
];

/// `POST /v1/otp/verify`: a sent code (`id` + `code`), an authenticator code (`user_id` + `code`)
/// or a recovery code (`user_id` + `recovery_code`).
#[derive(Debug, Deserialize)]
pub struct VerifyBody {
    id: Option<String>,
    code: Option<String>,
    user_id: Option<String>,
    recovery_code: Option<String>,
}

/// Which kind of verify a body asks for.
#[derive(Debug)]
pub enum VerifyKind {
    Challenge(VerifyRequest),
    Totp(TotpVerifyRequest),
}

impl VerifyBody {
    pub fn into_request(self) -> Result<VerifyKind, ApiError> {
        match (self.id, self.user_id) {
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "user_id",
                "cannot be sent with id: send id for a sent code, user_id for an authenticator app",
            )),
            (Some(id), None) => {
                if self.recovery_code.is_some() {
                    return Err(ApiError::invalid(
                        "recovery_code",
                        "goes with user_id, not with id",
                    ));
                }
                let id = ChallengeId::parse(&id).map_err(at("id"))?;
                let code = CodeAttempt::parse(&required(self.code, "code")?).map_err(at("code"))?;
                Ok(VerifyKind::Challenge(VerifyRequest { id, code }))
            }
            (None, Some(user_id)) => {
                let user_id = UserId::parse(&user_id).map_err(at("user_id"))?;
                let proof = match (self.code, self.recovery_code) {
                    (Some(_), Some(_)) => {
                        return Err(ApiError::invalid(
                            "recovery_code",
                            "cannot be sent with code: send one or the other",
                        ));
                    }
                    (Some(code), None) => {
                        TotpProof::Code(CodeAttempt::parse(&code).map_err(at("code"))?)
                    }
                    (None, Some(code)) => TotpProof::RecoveryCode(
                        CodeAttempt::parse(&code).map_err(at("recovery_code"))?,
                    ),
                    (None, None) => {
                        return Err(ApiError::invalid("code", "is required (or recovery_code)"));
                    }
                };
                Ok(VerifyKind::Totp(TotpVerifyRequest { user_id, proof }))
            }
            (None, None) => Err(ApiError::invalid(
                "id",
                "is required (or user_id, to check an authenticator app's code)",
            )),
        }
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
    attempts_remaining: Option<u32>,
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
                VerifyOutcome::Consumed => "The code has already been used.",
                VerifyOutcome::NotFound => "There is no code with this id.",
            },
            purpose: None,
            reference: None,
            channel: None,
            to: None,
            attempts_remaining: None,
            token: verification.token.clone(),
        };
        match outcome {
            VerifyOutcome::Approved(approved) => {
                reply.purpose = Some(approved.purpose.as_str().to_owned());
                reply.reference = approved.reference.as_ref().map(|r| r.as_str().to_owned());
                reply.channel = Some(approved.channel);
                reply.to = Some(approved.masked_to.clone());
            }
            VerifyOutcome::Incorrect { attempts_remaining } => {
                reply.attempts_remaining = Some(*attempts_remaining);
            }
            _ => {}
        }
        reply
    }
}

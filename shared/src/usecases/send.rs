//! The send use case: a code issued to one destination. This file holds what a send answers: its
//! receipt, why it went by email instead, its refusals and failures, and the name each refusal is
//! counted under (tests/api/openapi.rs and infra/check-template.py read those names here). The
//! steps of a send are its submodules:
//!
//! - `request`: the send as parsed ([`SendRequest`]) and the idempotency key it may carry.
//! - `idempotent`: `Otp::send`, the entry: the bot check, then the `Idempotency-Key` path (claim,
//!   replay, settle).
//! - `fallback`: an SMS refused or failed goes to the request's fallback email address instead.
//! - `deliver`: one send to one destination: the SMS rules, the message, the record, the delivery.

use std::time::Duration;

use time::OffsetDateTime;

use crate::abuse::NumberRefusal;
use crate::domain::{ChallengeId, Channel, Purpose, Reference};
use crate::ports::{DeliveryError, QuotaKind};

mod deliver;
mod fallback;
mod idempotent;
mod request;

pub use request::{Caller, IDEMPOTENCY_LEASE, IDEMPOTENCY_WINDOW, Idempotency, SendRequest};

/// What the caller learns about a send: never the code, never the full address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    pub id: ChallengeId,
    /// The channel that carried the code: the fallback's when it was used.
    pub channel: Channel,
    pub masked_to: String,
    pub purpose: Purpose,
    pub reference: Option<Reference>,
    pub expires_at: OffsetDateTime,
    pub resend_at: OffsetDateTime,
    pub attempts_remaining: u32,
    /// Why the SMS gave way to the fallback email, when it did.
    pub fell_back: Option<FallbackReason>,
    /// This is the first reply to an earlier request with the same idempotency key, not a new send.
    pub replayed: bool,
}

/// Why an SMS send went to the fallback address instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackReason {
    CountryNotAllowed,
    LineTypeNotAllowed,
    CountryLimit,
    GlobalLimit,
    BudgetExhausted,
    DeliveryFailed,
}

impl FallbackReason {
    const ALL: [Self; 6] = [
        Self::CountryNotAllowed,
        Self::LineTypeNotAllowed,
        Self::CountryLimit,
        Self::GlobalLimit,
        Self::BudgetExhausted,
        Self::DeliveryFailed,
    ];

    /// The problem type the SMS would have been refused with.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CountryNotAllowed => "sms-country-not-allowed",
            Self::LineTypeNotAllowed => "sms-number-type-not-allowed",
            Self::CountryLimit => "country-send-limit",
            Self::GlobalLimit => "global-sms-limit",
            Self::BudgetExhausted => "sms-budget-exhausted",
            Self::DeliveryFailed => "delivery-failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("a code was sent to this destination for this purpose moments ago")]
    CoolingDown { retry_after: Duration },
    #[error("this destination has been sent the most codes allowed for now")]
    CapReached { retry_after: Duration },
    #[error("{}", over_quota_detail(*.kind))]
    OverQuota {
        kind: QuotaKind,
        retry_after: Duration,
    },
    #[error(
        "too many wrong codes were tried for this destination from here; try again after the time in Retry-After"
    )]
    LockedOut {
        retry_after: Duration,
        until: OffsetDateTime,
    },
    #[error("{}", sms_refusal_detail(*.0))]
    SmsRefused(NumberRefusal),
    #[error("{}", voice_refusal_detail(*.0))]
    VoiceRefused(NumberRefusal),
    /// The rendered SMS takes more than one segment: refused before anything is recorded or sent.
    /// Profiles and server sends are checked at their longest before they get here; this is the
    /// last line of defence.
    #[error(
        "the SMS text needs {segments} segments; it must fit one: shorten the template or the brand"
    )]
    SmsTooLong { segments: usize },
    #[error("a send with this Idempotency-Key is still under way; retry shortly")]
    IdempotencyKeyInUse { retry_after: Duration },
    #[error(
        "this Idempotency-Key was used for a different request; use a new key for a new request"
    )]
    IdempotencyKeyReused,
    #[error(transparent)]
    BotCheck(#[from] BotCheckError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn over_quota_detail(kind: QuotaKind) -> &'static str {
    match kind {
        QuotaKind::ClientAddress => {
            "this client address has requested the most codes allowed this hour"
        }
        QuotaKind::Country => "the most SMS allowed to this country this hour have been sent",
        QuotaKind::Global => "the most SMS allowed this hour have been sent",
        QuotaKind::SmsBudget => {
            "today's budget for SMS and calls is spent; they resume at midnight UTC"
        }
        QuotaKind::EmailGlobal => "the most emails allowed this hour have been sent",
        QuotaKind::VoiceCountry => {
            "the most calls allowed to this country this hour have been made"
        }
        QuotaKind::VoiceGlobal => "the most calls allowed this hour have been made",
    }
}

fn voice_refusal_detail(refusal: NumberRefusal) -> String {
    match refusal {
        NumberRefusal::CountryNotAllowed => {
            "calls are not made to this number's country; ask the operator to allow it".to_owned()
        }
        NumberRefusal::LineTypeNotAllowed(line) => format!(
            "calls are only made to mobile and fixed-line numbers; this is a {} number",
            line.as_str()
        ),
    }
}

fn sms_refusal_detail(refusal: NumberRefusal) -> String {
    match refusal {
        NumberRefusal::CountryNotAllowed => {
            "SMS is not sent to this number's country; ask the operator to allow it, or use email"
                .to_owned()
        }
        NumberRefusal::LineTypeNotAllowed(line) => format!(
            "SMS is only sent to mobile numbers; this is a {} number",
            line.as_str()
        ),
    }
}

/// Why a bot check did not let a send through.
#[derive(Debug, thiserror::Error)]
pub enum BotCheckError {
    /// No token, a token the provider refused (forged, expired, used before), or one solved on a
    /// host the profile does not list.
    #[error(
        "the bot check failed: solve the challenge again and send its new token as `captcha_token`"
    )]
    Failed,
    /// The provider gave no verdict, and the profile fails closed.
    #[error("the bot-check provider did not answer; try again after the time in Retry-After")]
    Unavailable(#[source] crate::ports::BotCheckUnavailable),
}

impl SendError {
    /// The problem type of a refusal (not of a failure), as metrics name it.
    pub fn refusal_reason(&self) -> Option<&'static str> {
        Some(match self {
            SendError::CoolingDown { .. } => "resend-cooldown",
            SendError::CapReached { .. } => "destination-send-limit",
            SendError::LockedOut { .. } => "destination-locked",
            SendError::OverQuota { kind, .. } => match kind {
                QuotaKind::ClientAddress => "client-send-limit",
                QuotaKind::Country => "country-send-limit",
                QuotaKind::Global => "global-sms-limit",
                QuotaKind::SmsBudget => "sms-budget-exhausted",
                QuotaKind::EmailGlobal => "global-email-limit",
                QuotaKind::VoiceCountry => "country-voice-limit",
                QuotaKind::VoiceGlobal => "global-voice-limit",
            },
            SendError::SmsRefused(NumberRefusal::CountryNotAllowed) => "sms-country-not-allowed",
            SendError::SmsRefused(NumberRefusal::LineTypeNotAllowed(_)) => {
                "sms-number-type-not-allowed"
            }
            SendError::VoiceRefused(NumberRefusal::CountryNotAllowed) => {
                "voice-country-not-allowed"
            }
            SendError::VoiceRefused(NumberRefusal::LineTypeNotAllowed(_)) => {
                "voice-number-type-not-allowed"
            }
            SendError::SmsTooLong { .. } => "sms-too-long",
            SendError::BotCheck(BotCheckError::Failed) => "captcha-failed",
            SendError::BotCheck(BotCheckError::Unavailable(_))
            | SendError::IdempotencyKeyInUse { .. }
            | SendError::IdempotencyKeyReused
            | SendError::Delivery(_)
            | SendError::Unexpected(_) => return None,
        })
    }

    /// The reason an SMS gives way to a fallback address, if this refusal is one.
    fn fallback_reason(&self) -> Option<FallbackReason> {
        Some(match self {
            SendError::SmsRefused(NumberRefusal::CountryNotAllowed) => {
                FallbackReason::CountryNotAllowed
            }
            SendError::SmsRefused(NumberRefusal::LineTypeNotAllowed(_)) => {
                FallbackReason::LineTypeNotAllowed
            }
            SendError::OverQuota { kind, .. } => match kind {
                QuotaKind::Country => FallbackReason::CountryLimit,
                QuotaKind::Global => FallbackReason::GlobalLimit,
                QuotaKind::SmsBudget => FallbackReason::BudgetExhausted,
                // The client's own limit counts every channel; the email and call limits are the
                // fallbacks' own.
                QuotaKind::ClientAddress
                | QuotaKind::EmailGlobal
                | QuotaKind::VoiceCountry
                | QuotaKind::VoiceGlobal => return None,
            },
            SendError::Delivery(e) if e.channel == Channel::Sms => FallbackReason::DeliveryFailed,
            _ => return None,
        })
    }
}

#[cfg(test)]
#[path = "send_tests.rs"]
mod tests;

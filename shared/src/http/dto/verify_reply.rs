//! The replies to a verify, whatever its outcome: of a sent code ([`VerifyReply`]), and of an
//! authenticator or recovery code ([`TotpVerifyReply`]).

use serde::Serialize;
use time::OffsetDateTime;

use super::timestamps::round_up;
use crate::domain::{ChallengeId, Channel, Transaction, UserId};
use crate::ports::VerifyOutcome;
use crate::usecases::{TotpOutcome, Verification};

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
                reply.locked_until = Some(round_up(*until));
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

/// The reply to a TOTP or recovery-code verify.
#[derive(Debug, Serialize)]
pub struct TotpVerifyReply<'a> {
    status: &'static str,
    user_id: &'a str,
    method: &'static str,
    detail: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    enrollment: Option<&'static str>,
    /// True when this code confirmed a pending enrolment.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    activated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_remaining: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes_remaining: Option<u32>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    locked_until: Option<OffsetDateTime>,
    /// The signed proof of an approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
}

impl<'a> TotpVerifyReply<'a> {
    pub fn new(user_id: &'a UserId, method: &'static str, outcome: &'a TotpOutcome) -> Self {
        let recovery = method == "recovery_code";
        let mut reply = Self {
            status: outcome.status(),
            user_id: user_id.as_str(),
            method,
            detail: match (outcome, recovery) {
                (TotpOutcome::Approved { .. }, _) => "The code is correct.",
                (TotpOutcome::Incorrect { .. }, false) => {
                    "The code is not correct for now (the current time step, or one either side)."
                }
                (TotpOutcome::Incorrect { .. }, true) => {
                    "The recovery code is not one of this user's unused codes."
                }
                (TotpOutcome::Replayed, _) => {
                    "This code (or a later one) has already been used; wait for the next code."
                }
                (TotpOutcome::Locked { .. }, _) => {
                    "Too many wrong codes; try again after the time in Retry-After."
                }
                (TotpOutcome::NotFound, _) => {
                    "This user has no authenticator enrolled (or its enrolment lapsed unconfirmed)."
                }
            },
            enrollment: None,
            activated: false,
            attempts_remaining: None,
            recovery_codes_remaining: None,
            locked_until: None,
            token: None,
        };
        match outcome {
            TotpOutcome::Approved {
                activated,
                recovery_codes_remaining,
                token,
            } => {
                reply.token = Some(token);
                reply.enrollment = Some("active");
                reply.activated = *activated;
                reply.recovery_codes_remaining = *recovery_codes_remaining;
            }
            TotpOutcome::Incorrect { attempts_remaining } => {
                reply.attempts_remaining = Some(*attempts_remaining);
            }
            TotpOutcome::Locked { until, .. } => reply.locked_until = Some(round_up(*until)),
            _ => {}
        }
        reply
    }
}

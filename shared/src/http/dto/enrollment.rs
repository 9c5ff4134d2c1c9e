//! The authenticator-app (TOTP) enrolment routes: `POST /v1/server/totp/enroll`'s fields, body and
//! reply, and the reply to `GET /v1/server/totp/enroll/{user_id}`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::fields::{STRING, at, required};
use super::timestamps::{round_up, whole_seconds};
use crate::domain::UserId;
use crate::http::ApiError;
use crate::http::body::Field;
use crate::totp::{TotpAlgorithm, TotpLabel, TotpParams};
use crate::usecases::{EnrollRequest, EnrollmentStatus, NewEnrollment};

pub const ENROLL_FIELDS: &[Field] = &[
    Field {
        name: "user_id",
        expected: STRING,
    },
    Field {
        name: "issuer",
        expected: STRING,
    },
    Field {
        name: "account",
        expected: STRING,
    },
    Field {
        name: "digits",
        expected: "6 or 8",
    },
    Field {
        name: "algorithm",
        expected: "\"SHA1\", \"SHA256\" or \"SHA512\"",
    },
    Field {
        name: "period",
        expected: "30 or 60",
    },
    Field {
        name: "replace",
        expected: "true or false",
    },
];

/// `POST /v1/server/totp/enroll`.
#[derive(Debug, Deserialize)]
pub struct EnrollBody {
    user_id: Option<String>,
    issuer: Option<String>,
    account: Option<String>,
    digits: Option<u64>,
    algorithm: Option<String>,
    period: Option<u64>,
    replace: Option<bool>,
}

impl EnrollBody {
    pub fn into_request(self) -> Result<EnrollRequest, ApiError> {
        let user_id = UserId::parse(&required(self.user_id, "user_id")?).map_err(at("user_id"))?;
        let issuer = TotpLabel::parse(&required(self.issuer, "issuer")?).map_err(at("issuer"))?;
        let account =
            TotpLabel::parse(&required(self.account, "account")?).map_err(at("account"))?;
        let params = TotpParams::parse(self.algorithm.as_deref(), self.digits, self.period)
            .map_err(|(field, invalid)| ApiError::invalid(field, invalid.0))?;
        Ok(EnrollRequest {
            user_id,
            issuer,
            account,
            params,
            replace: self.replace.unwrap_or(false),
        })
    }
}

/// The 201 reply to an enrolment: the only time the secret and recovery codes are shown.
#[derive(Serialize)]
pub struct EnrollReply<'a> {
    user_id: &'a str,
    status: &'static str,
    secret: &'a str,
    otpauth_uri: &'a str,
    qr_svg: &'a str,
    qr_png: &'a str,
    recovery_codes: Vec<&'a str>,
    algorithm: TotpAlgorithm,
    digits: u8,
    period: u64,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

impl<'a> From<&'a NewEnrollment> for EnrollReply<'a> {
    fn from(new: &'a NewEnrollment) -> Self {
        Self {
            user_id: new.user_id.as_str(),
            status: "pending",
            secret: &new.secret,
            otpauth_uri: &new.otpauth_uri,
            qr_svg: &new.qr_svg,
            qr_png: &new.qr_png,
            recovery_codes: new.recovery_codes.iter().map(|c| c.as_str()).collect(),
            algorithm: new.params.algorithm,
            digits: new.params.digits,
            period: new.params.period,
            expires_at: whole_seconds(new.expires_at),
        }
    }
}

/// `GET /v1/totp/enroll/{user_id}`: the enrolment's state, never its secret.
#[derive(Debug, Serialize)]
pub struct StatusReply<'a> {
    user_id: &'a str,
    status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
    recovery_codes_remaining: u32,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    expires_at: Option<OffsetDateTime>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    locked_until: Option<OffsetDateTime>,
    /// Client networks locked out of this user now (each by its own wrong codes).
    locked_networks: u32,
    algorithm: TotpAlgorithm,
    digits: u8,
    period: u64,
}

impl<'a> StatusReply<'a> {
    pub fn new(user_id: &'a UserId, status: &EnrollmentStatus) -> Self {
        Self {
            user_id: user_id.as_str(),
            status: if status.active { "active" } else { "pending" },
            created_at: whole_seconds(status.created_at),
            last_used_at: status.last_used_at.map(whole_seconds),
            recovery_codes_remaining: status.recovery_codes_remaining,
            expires_at: status.expires_at.map(whole_seconds),
            // Rounded up, like Retry-After: never earlier than the real end.
            locked_until: status.locked_until.map(round_up),
            locked_networks: status.locked_networks,
            algorithm: status.params.algorithm,
            digits: status.params.digits,
            period: status.params.period,
        }
    }
}

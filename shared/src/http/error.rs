//! Every way a request can end other than success, and the single mapping to HTTP statuses and
//! RFC 9457 problem documents. Verify outcomes map here too.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use super::limits::MAX_BODY_BYTES;
use crate::abuse::NumberRefusal;
use crate::domain::Channel;
use crate::ports::{QuotaKind, StoreError, VerifyOutcome};
use crate::usecases::{BotCheckError, SendError, TotpError, TotpOutcome, VerifyError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("`{field}` {detail}")]
    InvalidField { field: String, detail: String },
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body is larger than {} bytes", MAX_BODY_BYTES)]
    BodyTooLarge,
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("no such route")]
    RouteNotFound,
    #[error("this route is for the app's backend: send its server credentials")]
    Unauthorized,
    #[error("the challenge has expired; ask your backend for a new one")]
    ChallengeExpired,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error(transparent)]
    Send(#[from] SendError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Totp(#[from] TotpError),
}

impl ApiError {
    /// How long a client should wait before retrying when a dependency is unavailable. The SDK has
    /// already retried for up to 5 s; a throttled or recovering table usually answers again
    /// within seconds.
    pub const UNAVAILABLE_RETRY_AFTER: u64 = 5;

    pub fn invalid(field: &str, detail: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.to_owned(),
            detail: detail.into(),
        }
    }

    /// The HTTP status of each error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidField { .. } | ApiError::MalformedJson(_) | ApiError::BodyTooLarge => {
                StatusCode::BAD_REQUEST
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::ChallengeExpired => StatusCode::GONE,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Send(
                SendError::CoolingDown { .. }
                | SendError::CapReached { .. }
                | SendError::LockedOut { .. },
            ) => StatusCode::TOO_MANY_REQUESTS,
            // The budget is the operator's, not the client's: the service is unavailable for SMS.
            ApiError::Send(SendError::OverQuota {
                kind: QuotaKind::SmsBudget,
                ..
            }) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Send(SendError::OverQuota { .. }) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Send(
                SendError::SmsRefused(_)
                | SendError::VoiceRefused(_)
                | SendError::SmsTooLong { .. },
            ) => StatusCode::UNPROCESSABLE_ENTITY,
            // As the IETF Idempotency-Key draft answers a key in use and a key reused.
            ApiError::Send(SendError::IdempotencyKeyInUse { .. }) => StatusCode::CONFLICT,
            ApiError::Send(SendError::IdempotencyKeyReused) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Send(SendError::Delivery(_)) => StatusCode::BAD_GATEWAY,
            ApiError::Send(SendError::BotCheck(BotCheckError::Failed)) => StatusCode::BAD_REQUEST,
            // Fail closed: the provider could not say the browser is not a bot.
            ApiError::Send(SendError::BotCheck(BotCheckError::Unavailable(_))) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Totp(TotpError::ActiveExists) => StatusCode::CONFLICT,
            ApiError::Totp(TotpError::NotEnrolled) => StatusCode::NOT_FOUND,
            _ if self.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Send(SendError::Unexpected(_))
            | ApiError::Verify(VerifyError::Unexpected(_))
            | ApiError::Totp(TotpError::Unexpected(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let (slug, title) = match self {
            ApiError::InvalidField { .. } => {
                ("invalid-request", "The request has an invalid field")
            }
            ApiError::MalformedJson(_) => ("malformed-json", "The body is not a JSON object"),
            ApiError::BodyTooLarge => ("body-too-large", "The body is too large"),
            ApiError::UnsupportedMediaType => ("unsupported-media-type", "Unsupported media type"),
            ApiError::RouteNotFound => ("not-found", "No such route"),
            ApiError::Unauthorized => ("unauthorized", "Server credentials required"),
            ApiError::ChallengeExpired => ("challenge-expired", "The challenge has expired"),
            ApiError::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            ApiError::Send(
                refusal @ (SendError::CoolingDown { .. }
                | SendError::CapReached { .. }
                | SendError::LockedOut { .. }
                | SendError::OverQuota { .. }
                | SendError::SmsRefused(_)
                | SendError::VoiceRefused(_)
                | SendError::SmsTooLong { .. }
                | SendError::BotCheck(BotCheckError::Failed)),
            ) => (
                refusal.refusal_reason().unwrap_or("refused"),
                send_refusal_title(refusal),
            ),
            ApiError::Send(SendError::Delivery(_)) => {
                ("delivery-failed", "The code could not be delivered")
            }
            ApiError::Send(SendError::BotCheck(BotCheckError::Unavailable(_))) => (
                "captcha-unavailable",
                "The bot check is unavailable for now",
            ),
            ApiError::Send(SendError::IdempotencyKeyInUse { .. }) => (
                "idempotency-key-in-use",
                "A send with this Idempotency-Key is under way",
            ),
            ApiError::Send(SendError::IdempotencyKeyReused) => (
                "idempotency-key-reused",
                "This Idempotency-Key belongs to another request",
            ),
            ApiError::Totp(TotpError::ActiveExists) => (
                "totp-already-enrolled",
                "The user already has an active authenticator",
            ),
            ApiError::Totp(TotpError::NotEnrolled) => (
                "totp-not-enrolled",
                "The user has no authenticator enrolled",
            ),
            _ if self.is_unavailable() => ("unavailable", "The service is unavailable for now"),
            ApiError::Send(SendError::Unexpected(_))
            | ApiError::Verify(VerifyError::Unexpected(_))
            | ApiError::Totp(TotpError::Unexpected(_)) => ("internal", "Internal error"),
        };
        let detail = match self {
            ApiError::Send(SendError::Delivery(e)) => format!(
                "the {} provider did not accept the message; the code was withdrawn",
                e.channel
            ),
            // Opaque on purpose: the cause is logged, not shown.
            _ if self.is_unavailable() => format!(
                "a service this request depends on did not answer; try again after {} seconds",
                Self::UNAVAILABLE_RETRY_AFTER
            ),
            ApiError::Send(SendError::Unexpected(_))
            | ApiError::Verify(VerifyError::Unexpected(_))
            | ApiError::Totp(TotpError::Unexpected(_)) => {
                "the request could not be completed; try again".to_owned()
            }
            other => other.to_string(),
        };
        Problem {
            r#type: format!("urn:problem-type:otp-lambda:{slug}"),
            title,
            status: status.as_u16(),
            detail,
            field: match self {
                ApiError::InvalidField { field, .. } => Some(field.clone()),
                _ => None,
            },
            retry_after: self.retry_after(),
            channel: match self {
                ApiError::Send(SendError::Delivery(e)) => Some(e.channel),
                _ => None,
            },
            locked_until: match self {
                ApiError::Send(SendError::LockedOut { until, .. }) => Some(*until),
                _ => None,
            },
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Send(
                SendError::CoolingDown { retry_after }
                | SendError::CapReached { retry_after }
                | SendError::LockedOut { retry_after, .. }
                | SendError::OverQuota { retry_after, .. }
                | SendError::IdempotencyKeyInUse { retry_after },
            ) => Some(retry_after.as_secs()),
            ApiError::Send(SendError::BotCheck(BotCheckError::Unavailable(_))) => {
                Some(Self::UNAVAILABLE_RETRY_AFTER)
            }
            _ if self.is_unavailable() => Some(Self::UNAVAILABLE_RETRY_AFTER),
            _ => None,
        }
    }

    /// Whether this failure is a dependency being unavailable (the store said so among the
    /// causes): the request may succeed if retried, unlike an opaque internal error.
    fn is_unavailable(&self) -> bool {
        let cause = match self {
            ApiError::Send(SendError::Unexpected(e))
            | ApiError::Verify(VerifyError::Unexpected(e))
            | ApiError::Totp(TotpError::Unexpected(e)) => e,
            _ => return false,
        };
        cause.chain().any(|cause| {
            cause
                .downcast_ref::<StoreError>()
                .is_some_and(StoreError::is_unavailable)
        })
    }

    pub fn into_response(self) -> Response<Body> {
        match &self {
            ApiError::Send(SendError::Unexpected(e))
            | ApiError::Verify(VerifyError::Unexpected(e))
            | ApiError::Totp(TotpError::Unexpected(e)) => {
                tracing::error!(error = ?e, "request failed");
            }
            ApiError::Send(SendError::Delivery(e)) => {
                tracing::error!(channel = %e.channel, error = ?e.source, "delivery failed");
            }
            ApiError::Send(SendError::BotCheck(BotCheckError::Unavailable(e))) => {
                tracing::error!(error = ?e.0, "the bot-check provider gave no verdict; refused (fail closed)");
            }
            _ => {
                tracing::info!(status = self.status().as_u16(), problem = %self, "request refused")
            }
        }
        let problem = self.problem();
        let mut response = Response::builder()
            .status(self.status())
            .header(http::header::CONTENT_TYPE, "application/problem+json")
            .header(http::header::CACHE_CONTROL, "no-store");
        if let Some(seconds) = problem.retry_after {
            response = response.header(http::header::RETRY_AFTER, seconds);
        }
        if let ApiError::MethodNotAllowed { allow } = self {
            response = response.header(http::header::ALLOW, allow);
        }
        if let ApiError::Unauthorized = self {
            response = response.header(
                http::header::WWW_AUTHENTICATE,
                "Bearer realm=\"otp-lambda server routes\"",
            );
        }
        let body = serde_json::to_vec(&problem).expect("problems always serialise");
        response
            .body(Body::Binary(body))
            .expect("headers are valid")
    }
}

/// The title of each refused send; its problem type is [`SendError::refusal_reason`], which the
/// metrics share.
fn send_refusal_title(refusal: &SendError) -> &'static str {
    match refusal {
        SendError::CoolingDown { .. } => "Too soon to resend",
        SendError::CapReached { .. } => "Too many codes sent to this destination",
        SendError::LockedOut { .. } => "Too many wrong codes tried for this destination",
        SendError::OverQuota { kind, .. } => match kind {
            QuotaKind::ClientAddress => "Too many codes requested from this address",
            QuotaKind::Country => "Too many SMS sent to this country for now",
            QuotaKind::Global => "Too many SMS sent for now",
            QuotaKind::SmsBudget => "Today's budget for SMS and calls is spent",
            QuotaKind::EmailGlobal => "Too many emails sent for now",
            QuotaKind::VoiceCountry => "Too many calls made to this country for now",
            QuotaKind::VoiceGlobal => "Too many calls made for now",
        },
        SendError::SmsRefused(NumberRefusal::CountryNotAllowed) => {
            "SMS is not sent to this country"
        }
        SendError::SmsRefused(NumberRefusal::LineTypeNotAllowed(_)) => {
            "SMS is only sent to mobile numbers"
        }
        SendError::VoiceRefused(NumberRefusal::CountryNotAllowed) => {
            "Calls are not made to this country"
        }
        SendError::VoiceRefused(NumberRefusal::LineTypeNotAllowed(_)) => {
            "Calls are only made to mobile and fixed-line numbers"
        }
        SendError::SmsTooLong { .. } => "The SMS text is longer than one segment",
        SendError::BotCheck(BotCheckError::Failed) => "The bot check failed",
        SendError::BotCheck(BotCheckError::Unavailable(_))
        | SendError::IdempotencyKeyInUse { .. }
        | SendError::IdempotencyKeyReused
        | SendError::Delivery(_)
        | SendError::Unexpected(_) => "Not sent",
    }
}

/// An RFC 9457 problem document, with this API's extension members.
#[derive(Debug, Serialize)]
struct Problem {
    r#type: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<Channel>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    locked_until: Option<time::OffsetDateTime>,
}

/// The HTTP status of each verify outcome. Only `approved` is a success.
pub fn verify_status(outcome: &VerifyOutcome) -> StatusCode {
    match outcome {
        VerifyOutcome::Approved(_) => StatusCode::OK,
        VerifyOutcome::Incorrect { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        VerifyOutcome::Expired => StatusCode::GONE,
        VerifyOutcome::Locked => StatusCode::LOCKED,
        // Unlike a locked code, it ends by itself: `429` with `Retry-After`, as a TOTP lockout.
        VerifyOutcome::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
        VerifyOutcome::Consumed => StatusCode::CONFLICT,
        VerifyOutcome::NotFound => StatusCode::NOT_FOUND,
    }
}

/// The HTTP status of each TOTP verify outcome. A lockout is `429` (with `Retry-After`): unlike a
/// locked sent code, it ends by itself.
pub fn totp_verify_status(outcome: &TotpOutcome) -> StatusCode {
    match outcome {
        TotpOutcome::Approved { .. } => StatusCode::OK,
        TotpOutcome::Incorrect { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        TotpOutcome::Replayed => StatusCode::CONFLICT,
        TotpOutcome::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        TotpOutcome::NotFound => StatusCode::NOT_FOUND,
    }
}

/// The `Retry-After` seconds a TOTP verify outcome carries, if any.
pub fn totp_retry_after(outcome: &TotpOutcome) -> Option<u64> {
    match outcome {
        TotpOutcome::Locked { retry_after, .. } => Some(retry_after.as_secs()),
        _ => None,
    }
}

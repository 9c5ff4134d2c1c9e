//! The 202 reply to a send.

use serde::Serialize;
use time::OffsetDateTime;

use super::timestamps::whole_seconds;
use crate::domain::Channel;
use crate::usecases::SendReceipt;

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

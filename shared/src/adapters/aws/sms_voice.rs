//! Voice calls (and, as an option, SMS) through AWS End User Messaging SMS and Voice v2: the call
//! speaks a [`VoiceMessage`]'s SSML; an approved code's message is confirmed with
//! `PutMessageFeedback(RECEIVED)`, which carriers and AWS use against SMS pumping.
//!
//! Failures are reported by their AWS error code and request id only: the service's messages quote
//! the number they refused, and no number may reach a log line.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_pinpointsmsvoicev2::types::{
    MessageFeedbackStatus, MessageType, VoiceId, VoiceMessageBodyTextType,
};

use super::delivery::describe;
use crate::domain::PhoneNumber;
use crate::messages::VoiceMessage;
use crate::ports::Delivered;

/// The service's bounds on a message's `TimeToLive`, in seconds.
const TIME_TO_LIVE: std::ops::RangeInclusive<u64> = 5..=259_200;

/// Where calls and texts come from, and what they may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsVoiceSettings {
    /// The phone number, its id or ARN, a pool or a sender id the messages come from.
    pub origination_identity: String,
    /// The configuration set whose event destinations receive delivery events.
    pub configuration_set: Option<String>,
    /// The most a call may cost per minute, and a text per message, in USD (`0.10`).
    pub max_price_per_minute: Option<String>,
    pub max_price: Option<String>,
}

/// End User Messaging SMS and Voice v2.
#[derive(Debug, Clone)]
pub struct SmsVoice {
    client: aws_sdk_pinpointsmsvoicev2::Client,
    settings: SmsVoiceSettings,
}

impl SmsVoice {
    pub fn new(client: aws_sdk_pinpointsmsvoicev2::Client, settings: SmsVoiceSettings) -> Self {
        Self { client, settings }
    }

    /// Calls `to` and speaks `message`, for at most `time_to_live` (the code's remaining lifetime:
    /// the service would otherwise keep trying for 72 hours). Feedback is enabled, so an approval
    /// can confirm it.
    pub async fn call(
        &self,
        to: &PhoneNumber,
        message: &VoiceMessage,
        time_to_live: Duration,
    ) -> anyhow::Result<Delivered> {
        let output = self
            .client
            .send_voice_message()
            .destination_phone_number(to.as_e164())
            .origination_identity(&self.settings.origination_identity)
            .message_body(&message.ssml)
            .message_body_text_type(VoiceMessageBodyTextType::Ssml)
            .voice_id(VoiceId::from(message.voice_id))
            .time_to_live(clamp_ttl(time_to_live))
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .set_max_price_per_minute(self.settings.max_price_per_minute.clone())
            .message_feedback_enabled(true)
            .send()
            .await
            .map_err(|e| describe("SendVoiceMessage", &e))?;
        Ok(Delivered {
            message_id: output.message_id,
        })
    }

    /// Texts `to` (a transactional SMS), with feedback enabled.
    pub async fn text(
        &self,
        to: &PhoneNumber,
        text: &str,
        time_to_live: Duration,
    ) -> anyhow::Result<Delivered> {
        let output = self
            .client
            .send_text_message()
            .destination_phone_number(to.as_e164())
            .origination_identity(&self.settings.origination_identity)
            .message_body(text)
            .message_type(MessageType::Transactional)
            .time_to_live(clamp_ttl(time_to_live))
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .set_max_price(self.settings.max_price.clone())
            .message_feedback_enabled(true)
            .send()
            .await
            .map_err(|e| describe("SendTextMessage", &e))?;
        Ok(Delivered {
            message_id: output.message_id,
        })
    }

    /// Tells the service the code in message `message_id` was entered.
    pub async fn confirm_received(&self, message_id: &str) -> anyhow::Result<()> {
        let output = self
            .client
            .put_message_feedback()
            .message_id(message_id)
            .message_feedback_status(MessageFeedbackStatus::Received)
            .send()
            .await
            .map_err(|e| describe("PutMessageFeedback", &e))?;
        match output.message_feedback_status {
            MessageFeedbackStatus::Received => Ok(()),
            other => Err(anyhow!("PutMessageFeedback answered {other:?}")),
        }
    }
}

/// The service's `TimeToLive`: whole seconds, within its bounds.
fn clamp_ttl(time_to_live: Duration) -> i32 {
    let seconds = time_to_live
        .as_secs()
        .clamp(*TIME_TO_LIVE.start(), *TIME_TO_LIVE.end());
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_to_live_is_the_codes_lifetime_within_the_services_bounds() {
        assert_eq!(clamp_ttl(Duration::from_secs(300)), 300);
        assert_eq!(clamp_ttl(Duration::from_millis(1500)), 5);
        assert_eq!(clamp_ttl(Duration::from_secs(10_000_000)), 259_200);
    }
}

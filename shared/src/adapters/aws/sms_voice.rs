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

use super::delivery::{describe, price_setting};
use crate::config::ConfigError;
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
    /// The protect configuration a text is checked against (its country rules, fraud filters).
    pub protect_configuration_id: Option<String>,
}

impl SmsVoiceSettings {
    /// `None` unless `OTP_EUM_ORIGINATION_IDENTITY` names where calls (and, with
    /// `OTP_SMS_PROVIDER=end-user-messaging`, texts) come from.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(identity) = lookup("OTP_EUM_ORIGINATION_IDENTITY") else {
            return Ok(None);
        };
        // The API's pattern for an identity, a configuration set and a protect configuration.
        let name = |variable: &'static str, raw: String, max: usize| {
            let value = raw.trim().to_owned();
            let valid = (1..=max).contains(&value.len())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-_:/.".contains(c));
            valid.then_some(value).ok_or(ConfigError {
                variable,
                detail: format!("must be 1 to {max} letters, digits or + - _ : / ."),
            })
        };
        Ok(Some(Self {
            origination_identity: name("OTP_EUM_ORIGINATION_IDENTITY", identity, 256)?,
            configuration_set: lookup("OTP_EUM_CONFIGURATION_SET")
                .map(|raw| name("OTP_EUM_CONFIGURATION_SET", raw, 256))
                .transpose()?,
            max_price_per_minute: price_setting(&lookup, "OTP_VOICE_MAX_PRICE_PER_MINUTE")?,
            max_price: price_setting(&lookup, "OTP_SMS_MAX_PRICE")?,
            protect_configuration_id: lookup("OTP_EUM_PROTECT_CONFIGURATION_ID")
                .map(|raw| name("OTP_EUM_PROTECT_CONFIGURATION_ID", raw, 256))
                .transpose()?,
        }))
    }
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
        to: &str,
        message: &VoiceMessage,
        time_to_live: Duration,
    ) -> anyhow::Result<Delivered> {
        let output = self
            .client
            .send_voice_message()
            .destination_phone_number(to)
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
            takes_feedback: true,
        })
    }

    /// Texts `to` (a transactional SMS), with feedback enabled.
    pub async fn text(
        &self,
        to: &str,
        text: &str,
        time_to_live: Duration,
    ) -> anyhow::Result<Delivered> {
        let output = self
            .client
            .send_text_message()
            .destination_phone_number(to)
            .origination_identity(&self.settings.origination_identity)
            .message_body(text)
            .message_type(MessageType::Transactional)
            .time_to_live(clamp_ttl(time_to_live))
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .set_max_price(self.settings.max_price.clone())
            .set_protect_configuration_id(self.settings.protect_configuration_id.clone())
            .message_feedback_enabled(true)
            .send()
            .await
            .map_err(|e| describe("SendTextMessage", &e))?;
        Ok(Delivered {
            message_id: output.message_id,
            takes_feedback: true,
        })
    }

    /// Tells the service the code in message `message_id` was entered.
    pub async fn confirm_received(&self, message_id: &str) -> anyhow::Result<()> {
        confirm_received(&self.client, message_id).await
    }
}

/// `PutMessageFeedback(RECEIVED)` for `message_id`: all the verify function asks of the service.
pub async fn confirm_received(
    client: &aws_sdk_pinpointsmsvoicev2::Client,
    message_id: &str,
) -> anyhow::Result<()> {
    let output = client
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

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn end_user_messaging_is_off_without_an_identity_and_its_settings_are_checked() {
        assert_eq!(SmsVoiceSettings::from_lookup(lookup(&[])).unwrap(), None);
        let set = SmsVoiceSettings::from_lookup(lookup(&[
            (
                "OTP_EUM_ORIGINATION_IDENTITY",
                "arn:aws:sms-voice:us-east-1:123456789012:phone-number/phone-1",
            ),
            ("OTP_EUM_CONFIGURATION_SET", "otp-messages"),
            ("OTP_VOICE_MAX_PRICE_PER_MINUTE", "0.10"),
            ("OTP_EUM_PROTECT_CONFIGURATION_ID", "protect-abc"),
        ]))
        .unwrap()
        .expect("configured");
        assert_eq!(set.configuration_set.as_deref(), Some("otp-messages"));
        assert_eq!(set.max_price_per_minute.as_deref(), Some("0.10"));
        assert_eq!(set.protect_configuration_id.as_deref(), Some("protect-abc"));
        for (variable, value) in [
            ("OTP_EUM_ORIGINATION_IDENTITY", "has spaces"),
            ("OTP_EUM_CONFIGURATION_SET", "semi;colon"),
            ("OTP_VOICE_MAX_PRICE_PER_MINUTE", "free"),
        ] {
            let vars: &'static [(&'static str, &'static str)] = match variable {
                "OTP_EUM_ORIGINATION_IDENTITY" => &[("OTP_EUM_ORIGINATION_IDENTITY", "has spaces")],
                "OTP_EUM_CONFIGURATION_SET" => &[
                    ("OTP_EUM_ORIGINATION_IDENTITY", "+12065550100"),
                    ("OTP_EUM_CONFIGURATION_SET", "semi;colon"),
                ],
                _ => &[
                    ("OTP_EUM_ORIGINATION_IDENTITY", "+12065550100"),
                    ("OTP_VOICE_MAX_PRICE_PER_MINUTE", "free"),
                ],
            };
            let error = SmsVoiceSettings::from_lookup(lookup(vars)).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }

    #[test]
    fn time_to_live_is_the_codes_lifetime_within_the_services_bounds() {
        assert_eq!(clamp_ttl(Duration::from_secs(300)), 300);
        assert_eq!(clamp_ttl(Duration::from_millis(1500)), 5);
        assert_eq!(clamp_ttl(Duration::from_secs(10_000_000)), 259_200);
    }
}

//! The production notifier: SMS by SNS (or End User Messaging), email by SES, calls by End User
//! Messaging; and the "code entered" signal an approval sends End User Messaging.

use anyhow::anyhow;

use super::delivery::{SesEmail, SnsSms};
use super::sms_voice::{self, SmsVoice};
use crate::domain::Channel;
use crate::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};

/// Which service texts a code.
#[derive(Debug, Clone)]
pub enum SmsProvider {
    /// SNS `Publish` to a phone number: the default.
    Sns(SnsSms),
    /// End User Messaging SMS and Voice v2 `SendTextMessage` (`OTP_SMS_PROVIDER=end-user-messaging`):
    /// configuration sets, protect configurations and the "code entered" signal.
    EndUserMessaging(SmsVoice),
}

/// Every channel a function delivers on, and where approvals' signals go. Any may be absent (the
/// verify and enroll functions deliver nothing); a message for an absent channel is refused.
#[derive(Debug, Clone, Default)]
pub struct AwsDelivery {
    pub sms: Option<SmsProvider>,
    pub email: Option<SesEmail>,
    pub voice: Option<SmsVoice>,
    /// End User Messaging, told when a code it carried is approved (the verify function).
    pub feedback: Option<aws_sdk_pinpointsmsvoicev2::Client>,
}

impl Notifier for AwsDelivery {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        let result = match message.channel {
            Channel::Sms => match &self.sms {
                Some(SmsProvider::Sns(sns)) => sns.send(message).await,
                Some(SmsProvider::EndUserMessaging(eum)) => {
                    eum.text(&message.to, &message.text, message.time_to_live)
                        .await
                }
                None => Err(anyhow!("SMS delivery is not configured")),
            },
            Channel::Email => match &self.email {
                Some(email) => email.send(message).await,
                None => Err(anyhow!("email delivery is not configured")),
            },
            Channel::Voice => match (&self.voice, &message.call) {
                (Some(voice), Some(call)) => {
                    voice.call(&message.to, call, message.time_to_live).await
                }
                (None, _) => Err(anyhow!(
                    "voice delivery is not configured (OTP_EUM_ORIGINATION_IDENTITY)"
                )),
                (Some(_), None) => Err(anyhow!("a call was sent with nothing to say")),
            },
        };
        result.map_err(|source| DeliveryError {
            channel: message.channel,
            source,
        })
    }

    async fn confirm_received(&self, message_id: &str) -> anyhow::Result<()> {
        match &self.feedback {
            Some(client) => sms_voice::confirm_received(client, message_id).await,
            None => Err(anyhow!("End User Messaging feedback is not configured")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_channel_with_no_adapter_is_refused_naming_it() {
        for channel in Channel::ALL {
            let message = OutgoingMessage {
                channel,
                to: "ana@example.com".into(),
                masked_to: "a•••@example.com".into(),
                subject: None,
                text: "123456".into(),
                html: None,
                call: None,
                time_to_live: std::time::Duration::from_secs(300),
            };
            let error = AwsDelivery::default().deliver(&message).await.unwrap_err();
            assert_eq!(error.channel, channel);
            assert!(!format!("{error:#}").contains("ana@example.com"));
        }
    }
}

//! Delivery through AWS: SMS with SNS `Publish` to a phone number, email with SES v2 `SendEmail`.
//!
//! Failures are reported by their AWS error code and request id only: AWS error messages can quote
//! the phone number or address they refused, and those must not reach a log line.

use anyhow::anyhow;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::config::ConfigError;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::ports::{Delivered, OutgoingMessage};

/// Optional SNS SMS attributes, from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsSettings {
    /// Alphanumeric sender ID (1–11 characters, at least one letter), where the country supports it.
    pub sender_id: Option<String>,
    /// The number (E.164) the SMS comes from, when the account owns one.
    pub origination_number: Option<String>,
    /// Upper bound in USD for one message; SNS refuses to send a dearer one.
    pub max_price: Option<String>,
}

impl SmsSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let sender_id = lookup("OTP_SMS_SENDER_ID")
            .map(|raw| {
                let id = raw.trim();
                let valid = (1..=11).contains(&id.len())
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && id.chars().any(|c| c.is_ascii_alphabetic());
                valid.then(|| id.to_owned()).ok_or(ConfigError {
                    variable: "OTP_SMS_SENDER_ID",
                    detail: "must be 1–11 letters, digits or hyphens with at least one letter"
                        .into(),
                })
            })
            .transpose()?;
        let origination_number = lookup("OTP_SMS_ORIGINATION_NUMBER")
            .map(|raw| {
                PhoneNumber::parse(&raw)
                    .map(|n| n.as_e164().to_owned())
                    .map_err(|e| ConfigError {
                        variable: "OTP_SMS_ORIGINATION_NUMBER",
                        detail: e.0,
                    })
            })
            .transpose()?;
        let max_price = price_setting(&lookup, "OTP_SMS_MAX_PRICE")?;
        Ok(Self {
            sender_id,
            origination_number,
            max_price,
        })
    }
}

/// A price ceiling in USD (`0.50`) from `variable`, as the provider takes it: above 0, at most 10.
pub(super) fn price_setting(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<Option<String>, ConfigError> {
    lookup(variable)
        .map(|raw| {
            let price = raw.trim();
            price
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && *p > 0.0 && *p <= 10.0)
                .map(|_| price.to_owned())
                .ok_or(ConfigError {
                    variable,
                    detail: "must be a price in USD above 0 and at most 10, e.g. 0.50".into(),
                })
        })
        .transpose()
}

/// SES settings, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// The verified SES identity mail comes from.
    pub from: EmailAddress,
    pub configuration_set: Option<String>,
}

impl EmailSettings {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let from = lookup("OTP_EMAIL_FROM").ok_or(ConfigError {
            variable: "OTP_EMAIL_FROM",
            detail: "is required: the SES-verified address codes are emailed from".into(),
        })?;
        let from = EmailAddress::parse(&from).map_err(|e| ConfigError {
            variable: "OTP_EMAIL_FROM",
            detail: e.0,
        })?;
        let configuration_set = lookup("OTP_SES_CONFIGURATION_SET")
            .map(|raw| {
                let name = raw.trim();
                let valid = (1..=64).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                valid.then(|| name.to_owned()).ok_or(ConfigError {
                    variable: "OTP_SES_CONFIGURATION_SET",
                    detail: "must be an SES configuration set name (letters, digits, - and _)"
                        .into(),
                })
            })
            .transpose()?;
        Ok(Self {
            from,
            configuration_set,
        })
    }
}

/// SMS through SNS.
#[derive(Debug, Clone)]
pub struct SnsSms {
    client: aws_sdk_sns::Client,
    settings: SmsSettings,
}

impl SnsSms {
    pub fn new(client: aws_sdk_sns::Client, settings: SmsSettings) -> Self {
        Self { client, settings }
    }

    pub(super) async fn send(&self, message: &OutgoingMessage) -> anyhow::Result<Delivered> {
        let string = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
        };
        let mut publish = self
            .client
            .publish()
            .phone_number(&message.to)
            .message(&message.text)
            // Transactional: routed for reliability, as codes need; Promotional may be dropped.
            .message_attributes("AWS.SNS.SMS.SMSType", string("Transactional")?);
        if let Some(sender_id) = &self.settings.sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", string(sender_id)?);
        }
        if let Some(number) = &self.settings.origination_number {
            publish = publish.message_attributes("AWS.MM.SMS.OriginationNumber", string(number)?);
        }
        if let Some(price) = &self.settings.max_price {
            publish = publish.message_attributes(
                "AWS.SNS.SMS.MaxPrice",
                MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(price)
                    .build()?,
            );
        }
        let output = publish
            .send()
            .await
            .map_err(|e| describe("SNS Publish", &e))?;
        Ok(Delivered {
            message_id: output.message_id,
            takes_feedback: false,
        })
    }
}

/// Email through SES v2.
#[derive(Debug, Clone)]
pub struct SesEmail {
    client: aws_sdk_sesv2::Client,
    settings: EmailSettings,
}

impl SesEmail {
    pub fn new(client: aws_sdk_sesv2::Client, settings: EmailSettings) -> Self {
        Self { client, settings }
    }

    pub(super) async fn send(&self, message: &OutgoingMessage) -> anyhow::Result<Delivered> {
        let content = |data: &str| Content::builder().data(data).charset("UTF-8").build();
        let mut body = Body::builder().text(content(&message.text)?);
        if let Some(html) = &message.html {
            body = body.html(content(html)?);
        }
        let subject = message
            .subject
            .as_deref()
            .unwrap_or("Your verification code");
        let output = self
            .client
            .send_email()
            .from_email_address(self.settings.from.as_str())
            .destination(Destination::builder().to_addresses(&message.to).build())
            .content(
                EmailContent::builder()
                    .simple(
                        Message::builder()
                            .subject(content(subject)?)
                            .body(body.build())
                            .build(),
                    )
                    .build(),
            )
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .send()
            .await
            .map_err(|e| describe("SES SendEmail", &e))?;
        Ok(Delivered {
            message_id: output.message_id,
            takes_feedback: false,
        })
    }
}

/// An SDK failure by its kind, error code and request id, never by its message.
pub(super) fn describe<E, R>(operation: &str, error: &SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            anyhow!(
                "{operation} refused: {} (request id {})",
                err.code().unwrap_or("unknown error code"),
                err.meta().extra("aws_request_id").unwrap_or("unknown"),
            )
        }
        SdkError::TimeoutError(_) => anyhow!("{operation} timed out"),
        SdkError::DispatchFailure(_) => anyhow!("{operation} could not reach AWS"),
        SdkError::ResponseError(_) => anyhow!("{operation} gave an unreadable response"),
        SdkError::ConstructionFailure(_) => anyhow!("{operation} could not be built"),
        _ => anyhow!("{operation} failed"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn sms_settings_are_optional_and_validated() {
        assert_eq!(
            SmsSettings::from_lookup(lookup(&[])).unwrap(),
            SmsSettings::default()
        );
        let set = SmsSettings::from_lookup(lookup(&[
            ("OTP_SMS_SENDER_ID", "Acme-2"),
            ("OTP_SMS_ORIGINATION_NUMBER", "+1 415 555 2671"),
            ("OTP_SMS_MAX_PRICE", "0.50"),
        ]))
        .unwrap();
        assert_eq!(set.sender_id.as_deref(), Some("Acme-2"));
        assert_eq!(set.origination_number.as_deref(), Some("+14155552671"));
        assert_eq!(set.max_price.as_deref(), Some("0.50"));
        for (variable, value) in [
            ("OTP_SMS_SENDER_ID", "TwelveLetter"),
            ("OTP_SMS_SENDER_ID", "12345"),
            ("OTP_SMS_SENDER_ID", "Acme Co"),
            ("OTP_SMS_ORIGINATION_NUMBER", "4155552671"),
            ("OTP_SMS_MAX_PRICE", "free"),
            ("OTP_SMS_MAX_PRICE", "-1"),
            ("OTP_SMS_MAX_PRICE", "NaN"),
        ] {
            let error = SmsSettings::from_lookup(lookup(&[(variable, value)])).unwrap_err();
            assert_eq!(error.variable, variable, "{value}");
        }
    }

    #[test]
    fn email_settings_need_a_from_address() {
        let error = EmailSettings::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(error.variable, "OTP_EMAIL_FROM");
        let error = EmailSettings::from_lookup(lookup(&[("OTP_EMAIL_FROM", "Acme <a@b.com>")]))
            .unwrap_err();
        assert_eq!(error.variable, "OTP_EMAIL_FROM");
        let set = EmailSettings::from_lookup(lookup(&[
            ("OTP_EMAIL_FROM", "no-reply@example.com"),
            ("OTP_SES_CONFIGURATION_SET", "otp_events-1"),
        ]))
        .unwrap();
        assert_eq!(set.from.as_str(), "no-reply@example.com");
        assert_eq!(set.configuration_set.as_deref(), Some("otp_events-1"));
        let error = EmailSettings::from_lookup(lookup(&[
            ("OTP_EMAIL_FROM", "no-reply@example.com"),
            ("OTP_SES_CONFIGURATION_SET", "has spaces"),
        ]))
        .unwrap_err();
        assert_eq!(error.variable, "OTP_SES_CONFIGURATION_SET");
    }

    #[test]
    fn an_aws_refusal_is_described_by_its_code_never_its_message() {
        use aws_sdk_sns::error::ErrorMetadata;
        use aws_sdk_sns::operation::publish::PublishError;
        use aws_smithy_runtime_api::http::{Response, StatusCode};
        use aws_smithy_types::body::SdkBody;

        let refused: SdkError<PublishError, Response> = SdkError::service_error(
            PublishError::generic(
                ErrorMetadata::builder()
                    .code("InvalidParameter")
                    .message("Invalid parameter: PhoneNumber Reason: +447911123456 is not valid")
                    .custom("aws_request_id", "req-1")
                    .build(),
            ),
            Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty()),
        );
        let described = format!("{:#}", describe("SNS Publish", &refused));
        assert_eq!(
            described,
            "SNS Publish refused: InvalidParameter (request id req-1)"
        );
    }
}

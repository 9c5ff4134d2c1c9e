//! What a provider later says happened to a sent message: the delivery events End User Messaging
//! SMS and Voice v2 ([`eum`]) and SES ([`ses`]) publish through their configuration sets' event
//! destinations, here as the `Message` of an SNS notification, parsed into a [`DeliveryEvent`].
//!
//! A [`DeliveryEvent`] holds only low-cardinality values (the channel, the country, a fixed
//! outcome and reason, the provider's event type from a closed list) and the provider's message
//! id: never the phone number, the email address or the message's text, which the events carry
//! and the parsers never read. Anything else is an [`EventError`], whose text quotes none of the
//! input either.

mod eum;
mod event;
mod ses;

use serde::Deserialize;

pub use eum::SUBSCRIBED as EUM_EVENT_TYPES;
pub use event::{DeliveryEvent, EventError, FAILURE_REASONS, MessageId, Outcome};
pub use ses::SUBSCRIBED as SES_EVENT_TYPES;

/// The fields either family's event is read for; serde skips the rest (numbers, addresses, texts)
/// without keeping them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields {
    /// SES names it `notificationType` in an identity's own notifications (no configuration set).
    #[serde(alias = "notificationType")]
    event_type: String,
    /// End User Messaging.
    iso_country_code: Option<String>,
    message_id: Option<String>,
    /// SES.
    mail: Option<ses::Mail>,
    bounce: Option<ses::Bounce>,
}

/// Parses the `Message` of an SNS notification from an End User Messaging SMS and Voice v2 or an
/// SES configuration set's event destination: SES events carry a `mail` object, End User Messaging
/// events do not.
pub fn parse(message: &str) -> Result<DeliveryEvent, EventError> {
    let fields: Fields =
        serde_json::from_str(message).map_err(|error| EventError::malformed(&error))?;
    match fields.mail {
        Some(mail) => ses::event(&fields.event_type, &mail, fields.bounce.as_ref()),
        None => eum::event(
            &fields.event_type,
            fields.iso_country_code.as_deref(),
            fields.message_id.as_deref(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_messages_are_errors_that_quote_nothing_of_the_input() {
        for message in [
            "",
            "not json",
            r#"{"eventType": "TEXT_SUCCESSFUL""#,
            "[]",
            r#"{"destinationPhoneNumber": "+447911123456"}"#,
            r#"{"eventType": 7, "destinationPhoneNumber": "+447911123456"}"#,
            r#"{"eventType": "TEXT_SUCCESSFUL", "isoCountryCode": "+447911123456", "messageId": 1}"#,
            r#"{"eventType": "Delivery", "mail": "ana@example.com"}"#,
        ] {
            let error = parse(message).unwrap_err();
            assert!(
                matches!(error, EventError::Malformed { .. }),
                "{message}: {error}"
            );
            let shown = error.to_string();
            assert!(
                !shown.contains("7911123456") && !shown.contains("ana@"),
                "{shown}"
            );
        }
    }

    #[test]
    fn an_unknown_event_type_is_named_only_when_it_looks_like_one() {
        assert_eq!(
            parse(r#"{"eventType": "TEXT_TELEPATHY"}"#).unwrap_err(),
            EventError::UnknownEventType(r#""TEXT_TELEPATHY""#.to_owned())
        );
        let error = parse(r#"{"eventType": "+447911123456"}"#).unwrap_err();
        assert!(!error.to_string().contains("7911123456"), "{error}");
        let error = parse(r#"{"eventType": "ana@example.com", "mail": {}}"#).unwrap_err();
        assert!(!error.to_string().contains("ana@"), "{error}");
    }

    #[test]
    fn message_ids_are_kept_only_when_shaped_like_one() {
        for id in [
            "862a8790-60c0-4430-9b2b-658bdexample",
            "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        ] {
            assert_eq!(MessageId::parse(id).unwrap().as_str(), id);
        }
        for id in [
            "",
            "447911123456",
            "+447911123456",
            "ana@example.com",
            "a b-c",
            &"a-".repeat(65),
        ] {
            assert_eq!(MessageId::parse(id), None, "{id}");
        }
    }

    #[test]
    fn failure_reasons_are_distinct_lowercase_words() {
        let mut seen = std::collections::HashSet::new();
        for reason in FAILURE_REASONS {
            assert!(seen.insert(reason), "{reason} twice");
            assert!(
                reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{reason}"
            );
        }
    }
}

//! SES email sending events, as a configuration set's SNS event destination publishes them. The
//! top-level object (`eventType`: Bounce, Complaint, Delivery, Send, Reject, Open, Click,
//! Rendering Failure, DeliveryDelay or Subscription; `notificationType` in an identity's own
//! notifications), the `mail` object and the bounce types:
//! <https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html>;
//! example records: <https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html>.
//! This parser reads the event type, `mail.messageId` and `bounce.bounceType`, never the addresses,
//! headers or diagnostic texts beside them.

use serde::Deserialize;

use super::event::{DeliveryEvent, EventError, MessageId, Outcome};
use crate::domain::Channel;

use Outcome::{Complained, Delivered, Failed, Ignored};

/// The part of `mail` that is read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Mail {
    message_id: Option<String>,
}

/// The part of `bounce` that is read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Bounce {
    bounce_type: Option<String>,
}

/// Every event type and what it counts as; a bounce is read from its `bounce` object. A
/// complaint follows the delivery of the same message: it is counted apart, not as a failure.
const EVENTS: &[(&str, Option<Outcome>)] = &[
    ("Delivery", Some(Delivered)),
    ("Bounce", None),
    ("Complaint", Some(Complained)),
    // SES found a virus and did not send it.
    ("Reject", Some(Failed { reason: "rejected" })),
    // Templates only; this service sends none.
    ("Rendering Failure", Some(Failed { reason: "other" })),
    ("Send", Some(Ignored)),
    // SES is still retrying: a Delivery or a Bounce follows.
    ("DeliveryDelay", Some(Ignored)),
    ("Open", Some(Ignored)),
    ("Click", Some(Ignored)),
    ("Subscription", Some(Ignored)),
];

/// The event types the template's event destination asks for (CloudFormation spells them in
/// lower camel case); infra/check-template.py holds the template's list to this one.
pub const SUBSCRIBED: &[&str] = &["delivery", "bounce", "complaint", "reject"];

pub(super) fn event(
    event_type: &str,
    mail: &Mail,
    bounce: Option<&Bounce>,
) -> Result<DeliveryEvent, EventError> {
    let &(event_type, outcome) = EVENTS
        .iter()
        .find(|(name, _)| *name == event_type)
        .ok_or_else(|| EventError::unknown_type(event_type))?;
    let outcome = match outcome {
        Some(outcome) => outcome,
        // "Undetermined" (SES could not tell) counts as not permanent: SES suppresses only
        // permanent bounces, so that is what an operator acts on.
        None => Outcome::Bounced {
            permanent: bounce.and_then(|b| b.bounce_type.as_deref()) == Some("Permanent"),
        },
    };
    Ok(DeliveryEvent {
        event_type,
        channel: Channel::Email,
        country: None,
        outcome,
        message_id: mail.message_id.as_deref().and_then(MessageId::parse),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{FAILURE_REASONS, parse};
    use super::*;

    /// The Bounce record of the SES examples page, shortened (its headers are more of the same).
    const BOUNCE_EXAMPLE: &str = r#"{
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{
                "emailAddress": "recipient@example.com",
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown"
            }],
            "timestamp": "2017-08-05T00:41:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "reportingMTA": "dsn; mta.example.com"
        },
        "mail": {
            "timestamp": "2017-08-05T00:40:02.012Z",
            "source": "Sender Name <sender@example.com>",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
            "sendingAccountId": "123456789012",
            "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "destination": ["recipient@example.com"],
            "headersTruncated": false,
            "headers": [
                {"name": "From", "value": "Sender Name <sender@example.com>"},
                {"name": "To", "value": "recipient@example.com"},
                {"name": "Subject", "value": "Message sent from Amazon SES"}
            ],
            "commonHeaders": {
                "from": ["Sender Name <sender@example.com>"],
                "to": ["recipient@example.com"],
                "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
                "subject": "Message sent from Amazon SES"
            },
            "tags": {"ses:configuration-set": ["ConfigSet"]}
        }
    }"#;

    #[test]
    fn the_documented_bounce_is_a_permanent_bounce_of_an_email() {
        let event = parse(BOUNCE_EXAMPLE).unwrap();
        assert_eq!(
            event,
            DeliveryEvent {
                event_type: "Bounce",
                channel: Channel::Email,
                country: None,
                outcome: Outcome::Bounced { permanent: true },
                message_id: MessageId::parse(
                    "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
                ),
            }
        );
        let kept = format!("{event:?}");
        assert!(!kept.contains('@'), "{kept}");
    }

    #[test]
    fn transient_and_undetermined_bounces_are_not_permanent() {
        for bounce_type in ["Transient", "Undetermined"] {
            let message = BOUNCE_EXAMPLE.replace("Permanent", bounce_type);
            assert_eq!(
                parse(&message).unwrap().outcome,
                Outcome::Bounced { permanent: false },
                "{bounce_type}"
            );
        }
    }

    #[test]
    fn each_event_type_maps_to_its_outcome() {
        let cases = [
            ("Delivery", Delivered),
            ("Complaint", Complained),
            ("Reject", Failed { reason: "rejected" }),
            ("Send", Ignored),
            ("DeliveryDelay", Ignored),
            ("Open", Ignored),
        ];
        for (event_type, outcome) in cases {
            let message = format!(
                r#"{{"eventType": "{event_type}", "mail": {{"messageId": "0100-ab", "destination": ["ana@example.com"]}}}}"#
            );
            let event = parse(&message).unwrap();
            assert_eq!((event.event_type, event.outcome), (event_type, outcome));
            assert_eq!(event.channel, Channel::Email);
            assert_eq!(event.country, None);
        }
    }

    #[test]
    fn an_identity_notification_names_its_type_notification_type() {
        let message = BOUNCE_EXAMPLE
            .replace(
                r#""eventType": "Bounce""#,
                r#""notificationType": "Delivery""#,
            )
            .replace(r#""bounce": {"#, r#""delivery": {"#);
        assert_eq!(parse(&message).unwrap().outcome, Delivered);
    }

    #[test]
    fn every_reason_is_a_listed_one() {
        for (name, outcome) in EVENTS {
            if let Some(Failed { reason }) = outcome {
                assert!(FAILURE_REASONS.contains(reason), "{name}: {reason}");
            }
        }
    }
}

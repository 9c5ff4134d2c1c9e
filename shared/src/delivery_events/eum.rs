//! End User Messaging SMS and Voice v2 events, as a configuration set's event destination
//! publishes them. The format (`eventType`, `isoCountryCode`, `messageId`, `messageStatus`, …,
//! beside the origination and destination numbers this parser never reads):
//! <https://docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-format.html>;
//! the event types and what each means:
//! <https://docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-types.html>
//! (the SDK's `EventType` lists the same values).

use super::event::{DeliveryEvent, EventError, MessageId, Outcome};
use crate::domain::Channel;
use crate::domain::Region;

use Channel::{Sms, Voice};
use Outcome::{Delivered, Failed, Ignored};

/// Every SMS and voice event type, and what it counts as. MMS and RCS events (`MEDIA_*`,
/// `RCS_*`) are not here: this service sends neither, and the template's event destination does
/// not ask for them.
///
/// One message may be reported more than once, and only one report counts:
/// - `TEXT_SUCCESSFUL` (the recipient's carrier accepted the message) is the success every SMS
///   gets; where the destination also returns handset receipts, `TEXT_DELIVERED` follows it for
///   the same message (the EventBridge examples show both for one `messageId`:
///   <https://docs.aws.amazon.com/sms-voice/latest/userguide/monitor-event-bridge.html>), so it is
///   logged, not counted again.
/// - a call goes `VOICE_INITIATED` → `VOICE_RINGING` → `VOICE_ANSWERED` → `VOICE_COMPLETED` ("the
///   audio message is played to the recipient"), or ends busy, unanswered, failed or expired:
///   only the last step counts.
const EVENTS: &[(&str, Channel, Outcome)] = &[
    ("TEXT_SUCCESSFUL", Sms, Delivered),
    ("TEXT_DELIVERED", Sms, Ignored),
    ("TEXT_QUEUED", Sms, Ignored),
    ("TEXT_PENDING", Sms, Ignored),
    ("TEXT_SENT", Sms, Ignored),
    ("TEXT_BLOCKED", Sms, Failed { reason: "blocked" }),
    ("TEXT_CARRIER_BLOCKED", Sms, Failed { reason: "blocked" }),
    // Refused by the account's own protect configuration, not by a carrier.
    (
        "TEXT_PROTECT_BLOCKED",
        Sms,
        Failed {
            reason: "protect-blocked",
        },
    ),
    ("TEXT_SPAM", Sms, Failed { reason: "spam" }),
    (
        "TEXT_UNREACHABLE",
        Sms,
        Failed {
            reason: "unreachable",
        },
    ),
    (
        "TEXT_CARRIER_UNREACHABLE",
        Sms,
        Failed {
            reason: "carrier-unreachable",
        },
    ),
    ("TEXT_INVALID", Sms, Failed { reason: "invalid" }),
    (
        "TEXT_INVALID_MESSAGE",
        Sms,
        Failed {
            reason: "invalid-message",
        },
    ),
    (
        "TEXT_TTL_EXPIRED",
        Sms,
        Failed {
            reason: "ttl-expired",
        },
    ),
    // Also what a message becomes when no final event came from the carrier within 72 hours.
    ("TEXT_UNKNOWN", Sms, Failed { reason: "unknown" }),
    ("VOICE_INITIATED", Voice, Ignored),
    ("VOICE_RINGING", Voice, Ignored),
    ("VOICE_ANSWERED", Voice, Ignored),
    ("VOICE_COMPLETED", Voice, Delivered),
    ("VOICE_BUSY", Voice, Failed { reason: "busy" }),
    (
        "VOICE_NO_ANSWER",
        Voice,
        Failed {
            reason: "no-answer",
        },
    ),
    ("VOICE_FAILED", Voice, Failed { reason: "other" }),
    (
        "VOICE_TTL_EXPIRED",
        Voice,
        Failed {
            reason: "ttl-expired",
        },
    ),
];

/// The event types the template's event destination asks for: every one that decides a
/// message's outcome, and `TEXT_DELIVERED` for its log line. infra/check-template.py holds the
/// template's list to this one.
pub const SUBSCRIBED: &[&str] = &[
    "TEXT_SUCCESSFUL",
    "TEXT_DELIVERED",
    "TEXT_BLOCKED",
    "TEXT_CARRIER_BLOCKED",
    "TEXT_PROTECT_BLOCKED",
    "TEXT_SPAM",
    "TEXT_UNREACHABLE",
    "TEXT_CARRIER_UNREACHABLE",
    "TEXT_INVALID",
    "TEXT_INVALID_MESSAGE",
    "TEXT_TTL_EXPIRED",
    "TEXT_UNKNOWN",
    "VOICE_COMPLETED",
    "VOICE_BUSY",
    "VOICE_NO_ANSWER",
    "VOICE_FAILED",
    "VOICE_TTL_EXPIRED",
];

pub(super) fn event(
    event_type: &str,
    iso_country_code: Option<&str>,
    message_id: Option<&str>,
) -> Result<DeliveryEvent, EventError> {
    let &(event_type, channel, outcome) = EVENTS
        .iter()
        .find(|(name, ..)| *name == event_type)
        .ok_or_else(|| EventError::unknown_type(event_type))?;
    Ok(DeliveryEvent {
        event_type,
        channel,
        // A country libphonenumber knows, in upper case; anything else is left out of the
        // metrics rather than let an odd value become a dimension of its own.
        country: iso_country_code.and_then(|code| Region::parse(code).ok()),
        outcome,
        message_id: message_id.and_then(MessageId::parse),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{FAILURE_REASONS, parse};
    use super::*;

    /// The SMS example of the event format page, as published (numbers, context and prices
    /// included).
    const SMS_EXAMPLE: &str = r#"{
        "eventType": "TEXT_SUCCESSFUL",
        "eventVersion": "1.0",
        "eventTimestamp": 1686975103470,
        "isFinal": true,
        "originationPhoneNumber": "+12065550152",
        "destinationPhoneNumber": "+14255550156",
        "isoCountryCode": "US",
        "mcc": "310",
        "mnc": "800",
        "messageId": "862a8790-60c0-4430-9b2b-658bdexample",
        "messageRequestTimestamp": 1686975103170,
        "messageEncoding": "GSM",
        "messageType": "PROMOTIONAL",
        "messageStatus": "SUCCESSFUL",
        "messageStatusDescription": "Message has been accepted by phone carrier",
        "context": {"account": "bar"},
        "totalMessageParts": 1,
        "totalMessagePrice": 0.09582,
        "totalCarrierFee": 0.0
    }"#;

    fn with_type(event_type: &str, country: &str) -> String {
        SMS_EXAMPLE
            .replace("TEXT_SUCCESSFUL", event_type)
            .replace(r#""US""#, &format!("{country:?}"))
    }

    #[test]
    fn the_documented_sms_example_is_a_delivery_in_the_us() {
        let event = parse(SMS_EXAMPLE).unwrap();
        assert_eq!(
            event,
            DeliveryEvent {
                event_type: "TEXT_SUCCESSFUL",
                channel: Sms,
                country: Some(Region::parse("US").unwrap()),
                outcome: Delivered,
                message_id: MessageId::parse("862a8790-60c0-4430-9b2b-658bdexample"),
            }
        );
        // Nothing of the numbers is kept.
        let kept = format!("{event:?}");
        assert!(
            !kept.contains("5550156") && !kept.contains("5550152"),
            "{kept}"
        );
    }

    #[test]
    fn each_event_type_maps_to_its_channel_and_outcome() {
        let cases = [
            ("TEXT_DELIVERED", Sms, Ignored),
            ("TEXT_PENDING", Sms, Ignored),
            ("TEXT_QUEUED", Sms, Ignored),
            ("TEXT_BLOCKED", Sms, Failed { reason: "blocked" }),
            ("TEXT_CARRIER_BLOCKED", Sms, Failed { reason: "blocked" }),
            (
                "TEXT_CARRIER_UNREACHABLE",
                Sms,
                Failed {
                    reason: "carrier-unreachable",
                },
            ),
            (
                "TEXT_UNREACHABLE",
                Sms,
                Failed {
                    reason: "unreachable",
                },
            ),
            ("TEXT_INVALID", Sms, Failed { reason: "invalid" }),
            (
                "TEXT_TTL_EXPIRED",
                Sms,
                Failed {
                    reason: "ttl-expired",
                },
            ),
            ("TEXT_SPAM", Sms, Failed { reason: "spam" }),
            ("TEXT_UNKNOWN", Sms, Failed { reason: "unknown" }),
            ("VOICE_INITIATED", Voice, Ignored),
            ("VOICE_RINGING", Voice, Ignored),
            ("VOICE_ANSWERED", Voice, Ignored),
            ("VOICE_COMPLETED", Voice, Delivered),
            ("VOICE_BUSY", Voice, Failed { reason: "busy" }),
            (
                "VOICE_NO_ANSWER",
                Voice,
                Failed {
                    reason: "no-answer",
                },
            ),
            ("VOICE_FAILED", Voice, Failed { reason: "other" }),
            (
                "VOICE_TTL_EXPIRED",
                Voice,
                Failed {
                    reason: "ttl-expired",
                },
            ),
        ];
        for (event_type, channel, outcome) in cases {
            let event = parse(&with_type(event_type, "GB")).unwrap();
            assert_eq!(
                (event.event_type, event.channel, event.outcome),
                (event_type, channel, outcome)
            );
            assert_eq!(event.country.unwrap().as_str(), "GB", "{event_type}");
        }
    }

    #[test]
    fn a_country_is_kept_only_when_it_is_a_known_alpha_2_code() {
        assert_eq!(
            parse(&with_type("VOICE_COMPLETED", "de")).unwrap().country,
            Some(Region::parse("DE").unwrap())
        );
        for odd in ["", "GBR", "+44", "ZZ", "G1", "ÉS"] {
            assert_eq!(
                parse(&with_type("TEXT_SUCCESSFUL", odd)).unwrap().country,
                None,
                "{odd:?}"
            );
        }
        let without = SMS_EXAMPLE.replace(r#""isoCountryCode": "US","#, "");
        assert_eq!(parse(&without).unwrap().country, None);
    }

    #[test]
    fn mms_and_rcs_events_are_not_ours() {
        for event_type in ["MEDIA_DELIVERED", "RCS_READ"] {
            assert!(matches!(
                parse(&with_type(event_type, "US")),
                Err(EventError::UnknownEventType(_))
            ));
        }
    }

    #[test]
    fn every_reason_is_a_listed_one_and_every_subscribed_type_is_known() {
        for (name, _, outcome) in EVENTS {
            if let Failed { reason } = outcome {
                assert!(FAILURE_REASONS.contains(reason), "{name}: {reason}");
            }
        }
        for name in SUBSCRIBED {
            let (_, _, outcome) = EVENTS.iter().find(|(n, ..)| n == name).unwrap();
            assert!(
                *outcome != Ignored || *name == "TEXT_DELIVERED",
                "{name} is subscribed but counts nothing"
            );
        }
        // Every event type that decides an outcome is subscribed.
        for (name, _, outcome) in EVENTS {
            assert_eq!(
                SUBSCRIBED.contains(name),
                *outcome != Ignored || *name == "TEXT_DELIVERED",
                "{name}"
            );
        }
    }
}

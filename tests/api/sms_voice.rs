//! The End User Messaging SMS and Voice v2 adapter, through the real SDK client, against the
//! emulator's fake of the service (tests/sms_voice_v2.py): what a call and a text send, as the
//! fake recorded them, the "code entered" feedback, and refusals that name no number.

use std::time::Duration;

use aws_sdk_pinpointsmsvoicev2::types::{MessageType, NumberCapability, RequestableNumberType};
use otp_shared::adapters::SeededRandomness;
use otp_shared::adapters::aws::{SmsVoice, SmsVoiceSettings};
use otp_shared::domain::{Code, CodeSpec, Locale, PhoneNumber, Purpose, Ttl};
use otp_shared::messages::{DEFAULT_REPEATS, MessageInput, render_voice};
use serde_json::Value;

use crate::helpers::Emulator;

/// A number of the fake's that can call and text, and an adapter sending from it.
async fn adapter(emulator: &Emulator) -> (SmsVoice, aws_sdk_pinpointsmsvoicev2::Client) {
    let client = aws_sdk_pinpointsmsvoicev2::Client::new(&emulator.sdk);
    let number = client
        .request_phone_number()
        .iso_country_code("US")
        .message_type(MessageType::Transactional)
        .number_capabilities(NumberCapability::Voice)
        .number_capabilities(NumberCapability::Sms)
        .number_type(RequestableNumberType::TollFree)
        .send()
        .await
        .expect("a number from the emulator");
    let settings = SmsVoiceSettings {
        origination_identity: number.phone_number_arn.expect("an ARN"),
        configuration_set: None,
        max_price_per_minute: Some("0.10".to_owned()),
        max_price: None,
        protect_configuration_id: None,
    };
    (SmsVoice::new(client.clone(), settings), client)
}

fn find<'a>(records: &'a [Value], message_id: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["message_id"] == message_id)
        .unwrap_or_else(|| panic!("no record of {message_id}"))
}

#[tokio::test]
async fn a_call_speaks_the_ssml_for_the_codes_lifetime_and_feedback_confirms_it() {
    let emulator = Emulator::get().await;
    let (voice, _) = adapter(&emulator).await;
    let code = Code::generate(CodeSpec::default(), &SeededRandomness::new(21));
    crate::logs::sensitive(code.expose());
    let (locale, purpose) = (Locale::parse("de").unwrap(), Purpose::default());
    let message = render_voice(
        &MessageInput {
            code: &code,
            brand: None,
            ttl: Ttl::parse(300).unwrap(),
            purpose: &purpose,
            locale: &locale,
            template: None,
            sms_binding: None,
            transaction: None,
            voice_repeats: otp_shared::messages::DEFAULT_REPEATS,
        },
        DEFAULT_REPEATS,
    );
    let to = PhoneNumber::parse("+14155550123").unwrap();
    let sent = voice
        .call(to.as_e164(), &message, Duration::from_secs(287))
        .await
        .expect("the call is accepted");
    let id = sent.message_id.expect("a message id");

    let calls = emulator.eum_records("voice_messages").await;
    let call = find(&calls, &id);
    assert_eq!(call["destination_phone_number"], "+14155550123");
    assert_eq!(call["message_body"], message.ssml.as_str());
    assert_eq!(call["message_body_text_type"], "SSML");
    assert_eq!(call["voice_id"], "VICKI");
    assert_eq!(call["time_to_live"], 287, "the code's remaining lifetime");
    assert_eq!(call["max_price_per_minute"], "0.10");
    assert_eq!(call["message_feedback_enabled"], true);
    let spoken = call["message_body"].as_str().unwrap();
    for c in code.expose().chars() {
        assert_eq!(
            spoken
                .matches(&format!("characters\">{c}</say-as>"))
                .count(),
            2 * code.expose().matches(c).count(),
            "each character twice"
        );
    }

    voice.confirm_received(&id).await.expect("feedback taken");
    let feedback = emulator.eum_records("message_feedback").await;
    assert_eq!(find(&feedback, &id)["message_feedback_status"], "RECEIVED");
    let unknown = voice
        .confirm_received("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("ResourceNotFoundException"),
        "{unknown}"
    );
}

#[tokio::test]
async fn a_text_is_transactional_and_a_refusal_names_its_code_not_the_number() {
    let emulator = Emulator::get().await;
    let (voice, client) = adapter(&emulator).await;
    let to = PhoneNumber::parse("+447911123456").unwrap();
    let sent = voice
        .text(
            to.as_e164(),
            "123456 is your code.",
            Duration::from_secs(300),
        )
        .await
        .expect("the text is accepted");
    let texts = emulator.eum_records("text_messages").await;
    let text = find(&texts, &sent.message_id.unwrap());
    assert_eq!(text["message_type"], "TRANSACTIONAL");
    assert_eq!(text["message_body"], "123456 is your code.");
    assert_eq!(text["time_to_live"], 300);

    // From a number the service does not know: refused by code, and the error quotes no number.
    let stranger = SmsVoice::new(
        client,
        SmsVoiceSettings {
            origination_identity: "+12065550999".to_owned(),
            configuration_set: None,
            max_price_per_minute: None,
            max_price: None,
            protect_configuration_id: None,
        },
    );
    let refused = stranger
        .text(
            to.as_e164(),
            "123456 is your code.",
            Duration::from_secs(300),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("ResourceNotFoundException"), "{refused}");
    assert!(
        !refused.contains("7911123456") && !refused.contains("2065550999"),
        "{refused}"
    );
}

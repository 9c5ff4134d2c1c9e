//! The voice channel over HTTP, on both stores (`OTP_TEST_BACKEND=aws`: DynamoDB, and the calls
//! read back from the emulator's End User Messaging feed): a call that says the code character by
//! character twice for the code's lifetime, fixed lines called but never texted, the `sms → voice`
//! fallback, "call me instead" replacing the SMS code, the "code entered" signal on approval, and
//! what a stranger may not choose.

use otp_shared::Settings;
use otp_shared::profiles::Profiles;
use serde_json::{Value, json};

use crate::helpers::{TestApp, on_aws, spawn_app_with, wrong_code};

/// A UK mobile, a London fixed line and a premium-rate number.
const MOBILE: &str = "+447911123456";
const FIXED_LINE: &str = "+442079460000";
const PREMIUM_RATE: &str = "+449098790000";

/// otp-local whose `default` profile also calls, and whose `landline` profile turns an SMS that
/// cannot go into a call.
async fn app() -> TestApp {
    let settings = Settings::default();
    let builtin = settings.profiles.default_profile().as_ref().clone();
    let profiles = Profiles::parse(
        r#"{"profiles": {
            "default": {"channels": ["sms", "email", "voice"], "fallback": "email"},
            "landline": {"channels": ["sms", "voice"], "fallback": "voice"}
        }}"#,
        builtin,
    )
    .unwrap();
    spawn_app_with(Settings {
        profiles,
        ..settings
    })
    .await
}

/// The newest outbox entry, and the SSML of the call it holds (on the AWS adapters, what the
/// emulator's End User Messaging was given).
async fn last_call(app: &TestApp) -> (Value, String) {
    let entry = app.outbox().await.pop().expect("a message was sent");
    assert_eq!(entry["channel"], "voice", "{entry}");
    let ssml = if on_aws() {
        entry["body"].as_str().unwrap().to_owned()
    } else {
        entry["ssml"].as_str().unwrap().to_owned()
    };
    (entry, ssml)
}

/// The characters a call says, each in its own `say-as`, in order (the code, once per repeat).
fn said(ssml: &str) -> String {
    ssml.split("interpret-as=\"characters\">")
        .skip(1)
        .filter_map(|rest| rest.chars().next())
        .collect()
}

/// The code of a call that says it twice (registered with the log audit, also as spoken).
pub(crate) fn code_of(ssml: &str) -> String {
    let said = said(ssml);
    assert_eq!(said.len() % 2, 0, "{ssml}");
    let (first, second) = said.split_at(said.len() / 2);
    assert_eq!(first, second, "the code is said twice");
    crate::logs::sensitive(first);
    // As a call says it, too: no log line may spell it out either.
    let spelled: Vec<String> = first.chars().map(String::from).collect();
    crate::logs::sensitive(&spelled.join(" "));
    first.to_owned()
}

/// What the emulator's End User Messaging recorded of one kind.
async fn eum_records(app: &TestApp, kind: &str) -> Vec<Value> {
    let emulator = app.emulator.as_ref().expect("on the AWS adapters");
    crate::helpers::eum_records(emulator, kind).await
}

#[tokio::test]
async fn a_call_says_the_code_character_by_character_twice_and_its_code_is_approved() {
    let app = app().await;
    let reply = app
        .send(&json!({"channel": "voice", "to": MOBILE, "locale": "fr"}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["channel"], "voice");
    assert_eq!(reply.body["to"], "+44•••••••456");
    let id = reply.body["id"].as_str().unwrap();

    let (entry, ssml) = last_call(&app).await;
    let code = code_of(&ssml);
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    for c in code.chars() {
        assert!(
            ssml.contains(&format!(
                "<say-as interpret-as=\"characters\">{c}</say-as><break time=\"400ms\"/>"
            )),
            "each character, then a pause"
        );
    }
    assert!(
        ssml.starts_with("<speak><lang xml:lang=\"fr-FR\">"),
        "{ssml}"
    );
    if on_aws() {
        let calls = eum_records(&app, "voice_messages").await;
        let call = calls
            .iter()
            .find(|c| c["message_id"] == entry["message_id"])
            .expect("the call in the feed");
        assert_eq!(call["destination_phone_number"], MOBILE);
        assert_eq!(call["message_body_text_type"], "SSML");
        assert_eq!(call["voice_id"], "LEA");
        assert_eq!(call["time_to_live"], 300, "the code's lifetime");
        assert_eq!(
            call["configuration_set_name"],
            crate::helpers::EUM_CONFIGURATION_SET
        );
    } else {
        // The outbox shows what the call says, as a person hears it.
        let spoken = entry["body"].as_str().unwrap();
        let spelled: Vec<String> = code.chars().map(String::from).collect();
        assert_eq!(spoken.matches(&spelled.join(" ")).count(), 2, "{spoken}");
    }

    let approved = app.verify(id, &code).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["channel"], "voice");
}

#[tokio::test]
async fn a_fixed_line_is_called_but_never_texted_and_a_premium_line_never_either() {
    let app = app().await;
    let sms = app.send(&json!({"channel": "sms", "to": FIXED_LINE})).await;
    assert_eq!(sms.status, 422, "{}", sms.body);
    assert!(
        sms.body["type"]
            .as_str()
            .unwrap()
            .ends_with("sms-number-type-not-allowed")
    );
    let call = app
        .send(&json!({"channel": "voice", "to": FIXED_LINE}))
        .await;
    assert_eq!(call.status, 202, "{}", call.body);
    let premium = app
        .send(&json!({"channel": "voice", "to": PREMIUM_RATE}))
        .await;
    assert_eq!(premium.status, 422, "{}", premium.body);
    assert!(
        premium.body["type"]
            .as_str()
            .unwrap()
            .ends_with("voice-number-type-not-allowed"),
        "{}",
        premium.body
    );
    assert!(!premium.body.to_string().contains("9098790000"));
    // Outside the allow-list (by default the SMS one): refused for calls as for SMS.
    let abroad = app
        .send(&json!({"channel": "voice", "to": "+917012345678"}))
        .await;
    assert_eq!(abroad.status, 422, "{}", abroad.body);
    assert!(
        abroad.body["type"]
            .as_str()
            .unwrap()
            .ends_with("voice-country-not-allowed")
    );
    assert_eq!(app.outbox().await.len(), 1, "only the fixed line's call");
}

#[tokio::test]
async fn an_sms_to_a_fixed_line_falls_back_to_a_call_under_a_profile_that_says_so() {
    let app = app().await;
    let reply = app
        .send(&json!({"channel": "sms", "to": FIXED_LINE, "profile": "landline"}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["channel"], "voice");
    assert_eq!(reply.body["fallback"]["from"], "sms");
    assert_eq!(
        reply.body["fallback"]["reason"],
        "sms-number-type-not-allowed"
    );
    let (_, ssml) = last_call(&app).await;
    let approved = app
        .verify(reply.body["id"].as_str().unwrap(), &code_of(&ssml))
        .await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);

    // The default profile falls back to email only: its SMS to a fixed line is refused.
    let refused = app.send(&json!({"channel": "sms", "to": FIXED_LINE})).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
}

#[tokio::test]
async fn call_me_instead_replaces_the_sms_code_after_the_cooldown() {
    let app = app().await;
    let (sms_id, sms_code) = app.issue(MOBILE).await;
    // The number is one destination by SMS or by call: its cooldown applies to the call.
    let too_soon = app.send(&json!({"channel": "voice", "to": MOBILE})).await;
    assert_eq!(too_soon.status, 429, "{}", too_soon.body);
    app.advance(30);
    let call = app.send(&json!({"channel": "voice", "to": MOBILE})).await;
    assert_eq!(call.status, 202, "{}", call.body);
    let (_, ssml) = last_call(&app).await;
    let old = app.verify(&sms_id, &sms_code).await;
    assert_eq!(old.status, 410, "{}", old.body);
    assert_eq!(
        old.body["status"], "expired",
        "the call replaced the SMS code"
    );
    let approved = app
        .verify(call.body["id"].as_str().unwrap(), &code_of(&ssml))
        .await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
}

#[tokio::test]
async fn an_approved_call_tells_the_provider_once_and_a_wrong_code_does_not() {
    let app = app().await;
    let reply = app.send(&json!({"channel": "voice", "to": MOBILE})).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap();
    let (entry, ssml) = last_call(&app).await;
    let message_id = entry["message_id"]
        .as_str()
        .expect("a message id")
        .to_owned();
    let code = code_of(&ssml);

    let feedback_for = |records: Vec<Value>| {
        records
            .into_iter()
            .filter(|r| r["message_id"] == message_id.as_str())
            .map(|r| r["message_feedback_status"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        app.verify(id, &wrong_code(&code)).await.body["status"],
        "incorrect"
    );
    let outbox = app.outbox().await;
    assert_eq!(outbox.last().unwrap()["feedback"], Value::Null);
    assert_eq!(app.verify(id, &code).await.body["status"], "approved");
    assert_eq!(app.verify(id, &code).await.body["status"], "consumed");
    let outbox = app.outbox().await;
    assert_eq!(outbox.last().unwrap()["feedback"], "RECEIVED");
    if on_aws() {
        assert_eq!(
            feedback_for(eum_records(&app, "message_feedback").await),
            ["RECEIVED"],
            "once, for the call's own message id"
        );
    }
}

/// A stranger's public send may choose `voice` only where the profile lists it, and never a text
/// or a payment for a call to say.
#[tokio::test]
async fn a_stranger_cannot_call_outside_the_profile_or_make_a_call_say_their_words() {
    let app = crate::helpers::spawn_app().await;
    let refused = app.send(&json!({"channel": "voice", "to": MOBILE})).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["field"], "channel", "{}", refused.body);

    let app = self::app().await;
    let worded = app
        .server_send(
            &json!({"channel": "voice", "to": MOBILE, "template": "Say {code} and send money"}),
        )
        .await;
    assert_eq!(worded.status, 400, "{}", worded.body);
    assert_eq!(worded.body["field"], "template", "{}", worded.body);
    let unknown = app.send(&json!({"channel": "fax", "to": MOBILE})).await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert!(app.outbox().await.is_empty());
}

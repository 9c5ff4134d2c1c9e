use otp_shared::ports::Clock;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::spawn_app;

fn timestamp(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap()
}

#[tokio::test]
async fn sms_send_is_accepted_and_lands_in_the_outbox() {
    let app = spawn_app().await;
    let now = app.clock.now();
    let reply = app
        .server_send(&json!({"channel": "sms", "to": "+44 7911 123456", "purpose": "login", "reference": "order-42"}))
        .await;

    assert_eq!(reply.status, 202, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["id"].as_str().unwrap().len(), 32);
    assert_eq!(body["channel"], "sms");
    assert_eq!(body["to"], "+44•••••••456");
    assert_eq!(body["purpose"], "login");
    assert_eq!(body["reference"], "order-42");
    assert_eq!(body["attempts_remaining"], 5);
    assert_eq!(
        timestamp(&body["expires_at"]),
        now + time::Duration::seconds(300)
    );
    assert_eq!(
        timestamp(&body["resend_at"]),
        now + time::Duration::seconds(30)
    );

    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1);
    let message = &outbox[0];
    assert_eq!(message["channel"], "sms");
    assert_eq!(message["to"], "+447911123456");
    assert_eq!(message["subject"], Value::Null);
    let code = app.last_code().await;
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    assert!(
        !reply.body.to_string().contains(&code),
        "the send reply leaks the code"
    );
    assert_eq!(timestamp(&message["sent_at"]), now);
}

#[tokio::test]
async fn email_send_has_a_subject_and_honours_length_alphabet_ttl_and_locale() {
    let app = spawn_app().await;
    let reply = app
        .server_send(&json!({
            "channel": "email", "to": "Ana@Example.com", "length": 8, "alphabet": "letters",
            "ttl_seconds": 240, "locale": "fr-CA", "brand": "Acme"
        }))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["to"], "A•••@example.com");
    let message = &app.outbox().await[0];
    assert_eq!(message["to"], "Ana@example.com");
    assert_eq!(message["subject"], "Votre code de vérification Acme");
    let body = message["body"].as_str().unwrap();
    assert!(body.contains("Ce code expire dans 4 min."), "{body}");
    let code = body.lines().nth(2).unwrap();
    assert_eq!(code.len(), 8);
    assert!(
        code.bytes()
            .all(|b| b"ABCDEFGHJKMNPQRSTUVWXYZ".contains(&b)),
        "{code}"
    );
}

#[tokio::test]
async fn a_custom_template_is_used_for_the_sms() {
    let app = spawn_app().await;
    let reply = app
        .server_send(&json!({
            "channel": "sms", "to": "+14155552671", "purpose": "change-payment",
            "template": "{brand}: {code} confirms {purpose}", "brand": "Acme"
        }))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let body = app.outbox().await[0]["body"].as_str().unwrap().to_owned();
    let code = body.split_whitespace().nth(1).unwrap();
    assert_eq!(body, format!("Acme: {code} confirms change-payment"));
}

#[tokio::test]
async fn invalid_sends_are_400_problems_naming_the_field() {
    let app = spawn_app().await;
    let sms = |extra: Value| {
        let mut body = json!({"channel": "sms", "to": "+447911123456"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"to": "+447911123456"}), "channel", "missing channel"),
        (json!({"channel": "sms"}), "to", "missing to"),
        (
            json!({"channel": "fax", "to": "+447911123456"}),
            "channel",
            "unknown channel",
        ),
        (
            json!({"channel": 1, "to": "+447911123456"}),
            "channel",
            "channel of the wrong type",
        ),
        (
            json!({"channel": "sms", "to": "07911 123456"}),
            "to",
            "national phone number",
        ),
        (
            json!({"channel": "sms", "to": "+44791112345678"}),
            "to",
            "invalid phone number",
        ),
        (
            // libphonenumber calls this German number valid, but E.164 (what SNS takes) stops at 15.
            json!({"channel": "sms", "to": "+49332955449332955"}),
            "to",
            "phone number past E.164's 15 digits",
        ),
        (
            json!({"channel": "sms", "to": "ana@example.com"}),
            "to",
            "email on the SMS channel",
        ),
        (
            json!({"channel": "email", "to": "+447911123456"}),
            "to",
            "phone on the email channel",
        ),
        (
            json!({"channel": "email", "to": "ana@localhost"}),
            "to",
            "email without a TLD",
        ),
        (
            json!({"channel": "sms", "to": ["+447911123456"]}),
            "to",
            "to as an array",
        ),
        (sms(json!({"length": 3})), "length", "length too small"),
        (sms(json!({"length": 11})), "length", "length too large"),
        (sms(json!({"length": "6"})), "length", "length as a string"),
        (sms(json!({"length": 6.5})), "length", "fractional length"),
        (sms(json!({"length": -6})), "length", "negative length"),
        (
            sms(json!({"alphabet": "hex"})),
            "alphabet",
            "unknown alphabet",
        ),
        (
            sms(json!({"ttl_seconds": 29})),
            "ttl_seconds",
            "ttl too short",
        ),
        (
            sms(json!({"ttl_seconds": 3601})),
            "ttl_seconds",
            "ttl too long",
        ),
        (
            sms(json!({"purpose": "Log In"})),
            "purpose",
            "purpose not a slug",
        ),
        (
            sms(json!({"template": "no placeholder"})),
            "template",
            "template without {code}",
        ),
        (
            sms(json!({"template": "{code} {oops}"})),
            "template",
            "unknown placeholder",
        ),
        (
            sms(json!({"template": "{brand} {code}"})),
            "brand",
            "template needs a brand",
        ),
        (
            sms(json!({"brand": "x".repeat(33)})),
            "brand",
            "brand too long",
        ),
        (
            sms(json!({"locale": "not a locale"})),
            "locale",
            "bad locale",
        ),
        (
            sms(json!({"reference": "r".repeat(65)})),
            "reference",
            "reference too long",
        ),
        (sms(json!({"ttl": 60})), "ttl", "unknown field"),
    ];
    for (body, field, case) in cases {
        // The backend's route, where every field exists: each value is refused for itself.
        let reply = app.server_send(&body).await;
        assert_eq!(reply.status, 400, "{case}: {}", reply.body);
        assert_eq!(reply.content_type(), "application/problem+json", "{case}");
        assert_eq!(reply.body["field"], field, "{case}: {}", reply.body);
        assert_eq!(reply.body["status"], 400, "{case}");
        assert_eq!(
            reply.body["type"], "urn:problem-type:otp-lambda:invalid-request",
            "{case}"
        );
        assert!(
            reply.body["detail"].as_str().unwrap().contains(field),
            "{case}"
        );
    }
    assert!(
        app.outbox().await.is_empty(),
        "a refused send delivered something"
    );
}

#[tokio::test]
async fn validation_errors_never_echo_the_values_sent() {
    let app = spawn_app().await;
    let reply = app
        .send(&json!({"channel": "sms", "to": 447911123456_u64}))
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        !reply.body.to_string().contains("447911123456"),
        "{}",
        reply.body
    );
    let reply = app
        .send(&json!({"channel": "email", "to": "secret.person@@example.com"}))
        .await;
    assert_eq!(reply.status, 400);
    assert!(
        !reply.body.to_string().contains("secret.person"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn malformed_bodies_are_400_problems() {
    let app = spawn_app().await;
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            b"{\"channel\": \"sms\",".to_vec(),
            "malformed-json",
            "truncated JSON",
        ),
        (b"".to_vec(), "malformed-json", "empty body"),
        (b"[1, 2]".to_vec(), "malformed-json", "an array"),
        (b"\"sms\"".to_vec(), "malformed-json", "a string"),
        (b"\xff\xfe".to_vec(), "malformed-json", "not UTF-8"),
        (
            format!(
                "{{\"channel\":\"sms\",\"to\":\"+447911123456\",\"reference\":\"{}\"}}",
                "x".repeat(17 * 1024)
            )
            .into_bytes(),
            "body-too-large",
            "over 16 KiB",
        ),
    ];
    for (body, kind, case) in cases {
        let reply = app
            .post_raw("/v1/otp/send", Some("application/json"), body)
            .await;
        assert_eq!(reply.status, 400, "{case}: {}", reply.body);
        assert_eq!(reply.content_type(), "application/problem+json", "{case}");
        assert_eq!(
            reply.body["type"],
            format!("urn:problem-type:otp-lambda:{kind}"),
            "{case}"
        );
    }
}

#[tokio::test]
async fn wrong_media_type_method_and_route_are_problems() {
    let app = spawn_app().await;
    let body = json!({"channel": "sms", "to": "+447911123456"})
        .to_string()
        .into_bytes();
    let reply = app
        .post_raw("/v1/otp/send", Some("text/plain"), body.clone())
        .await;
    assert_eq!(reply.status, 415);
    let reply = app
        .post_raw(
            "/v1/otp/send",
            Some("application/json; charset=utf-8"),
            body.clone(),
        )
        .await;
    assert_eq!(reply.status, 202, "parameters of application/json are fine");
    // No media type at all: what a cross-site "simple" request sends without a CORS preflight.
    for path in ["/v1/otp/send", "/v1/otp/verify"] {
        let reply = app.post_raw(path, None, body.clone()).await;
        assert_eq!(reply.status, 415, "{path}: {}", reply.body);
        assert_eq!(
            reply.body["type"],
            "urn:problem-type:otp-lambda:unsupported-media-type"
        );
    }
    let other = json!({"channel": "sms", "to": "+447911123457"})
        .to_string()
        .into_bytes();
    let reply = app
        .post_raw("/v1/otp/send", Some("application/problem+json"), other)
        .await;
    assert_eq!(
        reply.status, 202,
        "a +json media type is JSON: {}",
        reply.body
    );

    let reply = app.get("/v1/otp/send").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "POST");
    let reply = app.get("/v1/nothing-here").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.content_type(), "application/problem+json");
}

//! The Lambda handlers fed API Gateway HTTP API (v2) events, parsed by lambda_http exactly as the
//! runtime parses them.

use lambda_http::{Body, Request, Response};
use otp_shared::adapters::{MemoryStore, NoDelivery, OsRandomness};
use otp_shared::{Otp, ServiceSecret};
use serde_json::Value;

use crate::helpers::{Recorder, otp_with};

fn otp<N>(notifier: N) -> Otp<MemoryStore, N> {
    otp_with(notifier, &ServiceSecret::ephemeral(&OsRandomness))
}

/// An event from `tests/fixtures/apigw-v2`, optionally with another body.
fn event(fixture: &str, body: Option<&str>) -> Request {
    let path = format!("{}/fixtures/apigw-v2/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if let Some(body) = body {
        json["body"] = Value::String(body.to_owned());
        json["isBase64Encoded"] = Value::Bool(false);
    }
    lambda_http::request::from_str(&json.to_string()).expect("a valid API Gateway v2 event")
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn content_type(response: &Response<Body>) -> &str {
    response.headers()["content-type"].to_str().unwrap()
}

#[tokio::test]
async fn send_then_verify_through_api_gateway_events() {
    let recorder = Recorder::default();
    let otp = otp(recorder.clone());

    let sent = otp_shared::http::send(&otp, event("send.json", None))
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    assert_eq!(content_type(&sent), "application/json");
    assert_eq!(sent.headers()["cache-control"], "no-store");
    let sent = json_of(&sent);
    assert_eq!(sent["to"], "+44•••••••456");
    assert_eq!(sent["reference"], "order-42");
    let message = recorder.last();
    assert_eq!(message.to, "+447911123456");
    let code = message.text.split_whitespace().next().unwrap().to_owned();

    let body = format!(
        r#"{{"id":"{}","code":"{code}"}}"#,
        sent["id"].as_str().unwrap()
    );
    let verified = otp_shared::http::verify(&otp, event("verify.json", Some(&body)))
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    assert_eq!(json_of(&verified)["status"], "approved");
    assert_eq!(json_of(&verified)["purpose"], "login");
}

#[tokio::test]
async fn a_base64_encoded_body_is_decoded() {
    let recorder = Recorder::default();
    let otp = otp(recorder.clone());
    let sent = otp_shared::http::send(&otp, event("send-base64.json", None))
        .await
        .unwrap();
    assert_eq!(sent.status(), 202, "{:?}", json_of(&sent));
    let message = recorder.last();
    assert_eq!(message.to, "ana@example.com");
    assert_eq!(
        message.subject.as_deref(),
        Some("O seu código de verificação")
    );
}

#[tokio::test]
async fn handler_errors_are_problem_documents() {
    let otp = otp(Recorder::default());
    let cases = [
        ("send.json", Some("{"), 400, "malformed-json"),
        (
            "send.json",
            Some(r#"{"channel":"sms","to":"+1"}"#),
            400,
            "invalid-request",
        ),
        (
            "send.json",
            Some(r#"{"channel":"sms","to":"+447911123456","length":99}"#),
            400,
            "invalid-request",
        ),
        ("send-get.json", None, 405, "method-not-allowed"),
        ("verify.json", None, 404, ""),
        (
            "verify.json",
            Some(r#"{"id":"x","code":"1"}"#),
            400,
            "invalid-request",
        ),
    ];
    for (fixture, body, status, kind) in cases {
        let request = event(fixture, body);
        let response = if fixture.starts_with("send") {
            otp_shared::http::send(&otp, request).await.unwrap()
        } else {
            otp_shared::http::verify(&otp, request).await.unwrap()
        };
        assert_eq!(response.status(), status, "{fixture} {body:?}");
        if kind.is_empty() {
            // An unknown id is an outcome, not an error.
            assert_eq!(json_of(&response)["status"], "not_found");
        } else {
            assert_eq!(content_type(&response), "application/problem+json");
            assert_eq!(
                json_of(&response)["type"],
                format!("urn:problem-type:otp-lambda:{kind}")
            );
        }
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let otp = otp(Recorder::default());
    let body = format!(
        r#"{{"channel":"sms","to":"+447911123456","brand":"{}"}}"#,
        "x".repeat(16 * 1024)
    );
    let response = otp_shared::http::send(&otp, event("send.json", Some(&body)))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        json_of(&response)["type"],
        "urn:problem-type:otp-lambda:body-too-large"
    );
}

#[tokio::test]
async fn a_failed_delivery_is_502_naming_the_channel_and_withdraws_the_code() {
    let otp = otp(NoDelivery);
    let response = otp_shared::http::send(&otp, event("send.json", None))
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let problem = json_of(&response);
    assert_eq!(
        problem["type"],
        "urn:problem-type:otp-lambda:delivery-failed"
    );
    assert_eq!(problem["channel"], "sms");
    assert!(!problem.to_string().contains("7911123456"));

    // The send still counts: a retry inside the cooldown is refused.
    let retry = otp_shared::http::send(&otp, event("send.json", None))
        .await
        .unwrap();
    assert_eq!(retry.status(), 429);
}

#[tokio::test]
async fn enroll_read_and_remove_through_api_gateway_events() {
    let otp = otp(NoDelivery);
    let enrolled = otp_shared::http::enroll(&otp, event("enroll.json", None))
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    assert_eq!(enrolled.headers()["cache-control"], "no-store");
    let enrolled = json_of(&enrolled);
    assert_eq!(enrolled["user_id"], "user-1");
    assert_eq!(enrolled["status"], "pending");

    // `{user_id}` comes from the event's pathParameters, as API Gateway fills them.
    let status = otp_shared::http::enroll(&otp, event("enrollment-get.json", None))
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let status = json_of(&status);
    assert_eq!(status["status"], "pending");
    assert_eq!(status["recovery_codes_remaining"], 10);
    assert!(status.get("secret").is_none());

    let removed = otp_shared::http::enroll(&otp, event("enrollment-delete.json", None))
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let again = otp_shared::http::enroll(&otp, event("enrollment-delete.json", None))
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(content_type(&again), "application/problem+json");
    assert_eq!(
        json_of(&again)["type"],
        "urn:problem-type:otp-lambda:totp-not-enrolled"
    );
}

#[tokio::test]
async fn without_path_parameters_the_user_id_comes_from_the_path() {
    // A function URL (or `cargo lambda watch`) sets no path parameters.
    let otp = otp(NoDelivery);
    let enrolled = otp_shared::http::enroll(&otp, event("enroll.json", None))
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    let request = lambda_http::http::Request::get("/v1/totp/enroll/user-1")
        .body(Body::Empty)
        .unwrap();
    let status = otp_shared::http::enroll(&otp, request).await.unwrap();
    assert_eq!(status.status(), 200);
    assert_eq!(json_of(&status)["user_id"], "user-1");
}

//! The Lambda handlers fed API Gateway HTTP API (v2) events, parsed by lambda_http exactly as the
//! runtime parses them.

use lambda_http::{Body, Request, Response};
use otp_shared::adapters::{MemoryStore, NoDelivery, OsRandomness};
use otp_shared::routes::{Auth, Function, ROUTES, Route};
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
    assert!(sent.get("reference").is_none());
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

/// An event without the IAM identity API Gateway's `AWS_IAM` authorizer adds: a request that
/// reached the function some other way.
fn unsigned(mut request: Request) -> Request {
    use lambda_http::RequestExt as _;
    use lambda_http::request::RequestContext;
    let context = match request.request_context() {
        RequestContext::ApiGatewayV2(mut context) => {
            context.authorizer = None;
            RequestContext::ApiGatewayV2(context)
        }
        other => other,
    };
    request = request.with_request_context(context);
    request
}

#[tokio::test]
async fn enroll_read_and_remove_through_api_gateway_events() {
    let otp = otp(NoDelivery);
    let enrolled = otp_shared::http::enroll_function(&otp, event("enroll.json", None))
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    assert_eq!(enrolled.headers()["cache-control"], "no-store");
    let enrolled = json_of(&enrolled);
    assert_eq!(enrolled["user_id"], "user-1");
    assert_eq!(enrolled["status"], "pending");

    // `{user_id}` comes from the event's pathParameters, as API Gateway fills them.
    let status = otp_shared::http::enroll_function(&otp, event("enrollment-get.json", None))
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let status = json_of(&status);
    assert_eq!(status["status"], "pending");
    assert_eq!(status["recovery_codes_remaining"], 10);
    assert!(status.get("secret").is_none());

    let removed = otp_shared::http::enroll_function(&otp, event("enrollment-delete.json", None))
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let again = otp_shared::http::enroll_function(&otp, event("enrollment-delete.json", None))
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(content_type(&again), "application/problem+json");
    assert_eq!(
        json_of(&again)["type"],
        "urn:problem-type:otp-lambda:totp-not-enrolled"
    );
}

/// The enroll function issues a challenge; the verify function, a separate Lambda with the same
/// service secret, opens it for the browser's code.
#[tokio::test]
async fn a_challenge_from_the_enroll_function_is_verified_by_the_verify_function() {
    let otp = otp(NoDelivery);
    let enrolled = otp_shared::http::enroll_function(&otp, event("enroll.json", None))
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    let uri = json_of(&enrolled)["otpauth_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let authenticator = totp_rs::Totp::from_url(&uri).unwrap();

    let challenge = otp_shared::http::enroll_function(&otp, event("challenge.json", None))
        .await
        .unwrap();
    assert_eq!(challenge.status(), 201);
    assert_eq!(content_type(&challenge), "application/json");
    let challenge = json_of(&challenge);
    assert_eq!(challenge["user_id"], "user-1");
    let challenge_id = challenge["challenge_id"].as_str().unwrap();

    // The otp's clock started at the real time: the app's current code is within its window.
    let code = authenticator.generate_current().to_string();
    let body = serde_json::json!({"challenge_id": challenge_id, "code": code}).to_string();
    let verified = otp_shared::http::verify_function(&otp, event("verify.json", Some(&body)))
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    let verified = json_of(&verified);
    assert_eq!(verified["status"], "approved");
    assert_eq!(verified["user_id"], "user-1");
    assert_eq!(verified["activated"], true);

    // The public verify takes no user id, for a known user or not.
    for user in ["user-1", "nobody"] {
        let body = serde_json::json!({"user_id": user, "code": code}).to_string();
        let refused = otp_shared::http::verify_function(&otp, event("verify.json", Some(&body)))
            .await
            .unwrap();
        assert_eq!(refused.status(), 400);
        assert_eq!(json_of(&refused)["field"], "user_id");
    }
    // The backend's does.
    let body = serde_json::json!({"user_id": "user-1", "code": code}).to_string();
    let replayed =
        otp_shared::http::verify_function(&otp, event("server-verify.json", Some(&body)))
            .await
            .unwrap();
    assert_eq!(replayed.status(), 409);
    assert_eq!(json_of(&replayed)["status"], "consumed");
}

/// Without the identity API Gateway's `AWS_IAM` authorizer sets, every server route is 401, though
/// the path says `/v1/server/`.
#[tokio::test]
async fn server_route_events_without_an_iam_identity_are_401() {
    let recorder = Recorder::default();
    let otp = otp(recorder.clone());
    assert_eq!(
        otp_shared::http::enroll_function(&otp, event("enroll.json", None))
            .await
            .unwrap()
            .status(),
        201
    );
    for fixture in [
        "enroll.json",
        "enrollment-get.json",
        "enrollment-delete.json",
        "challenge.json",
        "server-send.json",
        "server-verify.json",
    ] {
        let request = unsigned(event(fixture, None));
        let response = if fixture.starts_with("server-send") {
            otp_shared::http::send(&otp, request).await.unwrap()
        } else if fixture.starts_with("server-verify") {
            otp_shared::http::verify_function(&otp, request)
                .await
                .unwrap()
        } else {
            otp_shared::http::enroll_function(&otp, request)
                .await
                .unwrap()
        };
        assert_eq!(response.status(), 401, "{fixture}");
        assert_eq!(content_type(&response), "application/problem+json");
        assert_eq!(
            json_of(&response)["type"],
            "urn:problem-type:otp-lambda:unauthorized",
            "{fixture}"
        );
    }
    assert!(recorder.0.lock().unwrap().is_empty(), "nothing was sent");
    // Still enrolled: neither removed nor replaced.
    let status = otp_shared::http::enroll_function(&otp, event("enrollment-get.json", None))
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
}

/// The backend's send may carry a reference; the browser's may not.
#[tokio::test]
async fn a_reference_is_for_the_signed_server_send_only() {
    let recorder = Recorder::default();
    let otp = otp(recorder.clone());
    let sent = otp_shared::http::send(&otp, event("server-send.json", None))
        .await
        .unwrap();
    assert_eq!(sent.status(), 202, "{:?}", json_of(&sent));
    assert_eq!(json_of(&sent)["reference"], "order-42");

    let body = r#"{"channel":"sms","to":"+447911123457","reference":"order-42"}"#;
    let refused = otp_shared::http::send(&otp, event("send.json", Some(body)))
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(json_of(&refused)["field"], "reference");
    assert_eq!(recorder.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn without_path_parameters_the_user_id_comes_from_the_path() {
    // A function URL (or `cargo lambda watch`) sets no path parameters.
    let otp = otp(NoDelivery);
    let enrolled = otp_shared::http::enroll_function(&otp, event("enroll.json", None))
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    let mut request = event("enrollment-get.json", None);
    *request.uri_mut() = "/v1/server/totp/enroll/user-1".parse().unwrap();
    let request = {
        use lambda_http::RequestExt as _;
        request.with_path_parameters(std::collections::HashMap::<String, String>::new())
    };
    let status = otp_shared::http::enroll_function(&otp, request)
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    assert_eq!(json_of(&status)["user_id"], "user-1");
}

/// An API Gateway v2 event for `method` on `path` (a route of the table, its `{user_id}` filled in
/// as API Gateway fills path parameters), behind `stage` (`$default`: none), signed or not.
fn route_event(method: &str, route: &Route, stage: &str, signed: bool) -> Request {
    let path = route.path.replace("{user_id}", "user-1");
    let raw_path = if stage == "$default" {
        path.clone()
    } else {
        format!("/{stage}{path}")
    };
    let fixture = format!(
        "{}/fixtures/apigw-v2/enrollment-get.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut json: Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    let route_key = format!("{} {}", route.method, route.path);
    json["routeKey"] = Value::String(route_key.clone());
    json["rawPath"] = Value::String(raw_path.clone());
    json["requestContext"]["routeKey"] = Value::String(route_key);
    json["requestContext"]["stage"] = Value::String(stage.to_owned());
    json["requestContext"]["http"]["method"] = Value::String(method.to_owned());
    json["requestContext"]["http"]["path"] = Value::String(raw_path);
    json["pathParameters"] = if route.is_template() {
        serde_json::json!({"user_id": "user-1"})
    } else {
        Value::Null
    };
    if method == "POST" {
        json["headers"]["content-type"] = Value::String("application/json".to_owned());
        json["body"] = Value::String("{}".to_owned());
    }
    let request =
        lambda_http::request::from_str(&json.to_string()).expect("a valid API Gateway v2 event");
    if signed { request } else { unsigned(request) }
}

/// What each function's `main` runs (functions/*/src/main.rs).
async fn function_entry(function: Function, request: Request) -> Response<Body> {
    let otp = otp(NoDelivery);
    match function {
        Function::Send => otp_shared::http::send(&otp, request).await,
        Function::Verify => otp_shared::http::verify_function(&otp, request).await,
        Function::Enroll => otp_shared::http::enroll_function(&otp, request).await,
        Function::Local => panic!("no function serves otp-local's own routes"),
    }
    .unwrap()
}

/// The Lambdas route by the route table: each function's entry point sends each of its routes (with
/// or without a stage before the path) to the handler that takes the route's method, answers `405`
/// with the table's `Allow` for another method, and `401` on a server route without the identity
/// API Gateway's `AWS_IAM` authorizer sets.
#[tokio::test]
async fn each_function_routes_its_routes_by_the_route_table() {
    for route in ROUTES.iter().filter(|r| r.function != Function::Local) {
        for stage in ["$default", "prod"] {
            let what = format!("{} {} (stage {stage})", route.method, route.path);
            let signed = function_entry(
                route.function,
                route_event(route.method, route, stage, true),
            )
            .await;
            assert_ne!(signed.status(), 405, "{what}: {:?}", json_of(&signed));
            assert_ne!(signed.status(), 401, "{what}: {:?}", json_of(&signed));

            let unsigned = function_entry(
                route.function,
                route_event(route.method, route, stage, false),
            )
            .await;
            if route.auth == Auth::Server {
                assert_eq!(unsigned.status(), 401, "{what} unsigned");
            } else {
                assert_ne!(unsigned.status(), 401, "{what} unsigned");
                assert_ne!(unsigned.status(), 405, "{what} unsigned");
            }

            let other =
                function_entry(route.function, route_event("PATCH", route, stage, true)).await;
            assert_eq!(other.status(), 405, "PATCH {what}");
            assert_eq!(other.headers()["allow"], route.allow(), "PATCH {what}");
        }
    }
}

use serde_json::json;

use crate::helpers::{spawn_app, wrong_code};

#[tokio::test]
async fn send_outbox_verify_approves_with_the_send_details() {
    let app = spawn_app().await;
    let sent = app
        .send(&json!({"channel": "sms", "to": "+447911123456", "purpose": "login", "reference": "order-42"}))
        .await;
    let id = sent.body["id"].as_str().unwrap();
    let code = app.last_code().await;

    let reply = app.verify(id, &code).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.body["status"], "approved");
    assert_eq!(reply.body["id"], id);
    assert_eq!(reply.body["purpose"], "login");
    assert_eq!(reply.body["reference"], "order-42");
    assert_eq!(reply.body["channel"], "sms");
    assert_eq!(reply.body["to"], "+44•••••••456");
    assert!(!reply.body.to_string().contains(&code));
}

#[tokio::test]
async fn codes_are_compared_loosely_as_users_type_them() {
    let app = spawn_app().await;
    let sent = app
        .send(&json!({"channel": "email", "to": "ana@example.com", "alphabet": "alphanumeric", "length": 8}))
        .await;
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let body = app.outbox().await[0]["body"].as_str().unwrap().to_owned();
    let code = body.lines().nth(2).unwrap().to_owned();
    let typed = format!(" {}-{} ", &code[..4], &code[4..]).to_lowercase();

    let reply = app.verify(&id, &typed).await;

    assert_eq!(
        reply.body["status"], "approved",
        "{typed:?}: {}",
        reply.body
    );
}

#[tokio::test]
async fn a_wrong_code_is_incorrect_and_counts_down() {
    let app = spawn_app().await;
    let (id, code) = app.issue("+447911123456").await;

    let reply = app.verify(&id, &wrong_code(&code)).await;

    assert_eq!(reply.status, 422);
    assert_eq!(reply.body["status"], "incorrect");
    assert_eq!(reply.body["attempts_remaining"], 4);
    assert_eq!(app.verify(&id, &code).await.body["status"], "approved");
}

#[tokio::test]
async fn five_wrong_attempts_lock_the_code_even_for_the_right_one() {
    let app = spawn_app().await;
    let (id, code) = app.issue("+447911123456").await;
    for remaining in (0..5).rev() {
        let reply = app.verify(&id, &wrong_code(&code)).await;
        assert_eq!(reply.body["status"], "incorrect");
        assert_eq!(reply.body["attempts_remaining"], remaining);
    }

    let reply = app.verify(&id, &code).await;

    assert_eq!(reply.status, 423, "{}", reply.body);
    assert_eq!(reply.body["status"], "locked");
    assert_eq!(reply.body.get("purpose"), None);
}

#[tokio::test]
async fn a_replayed_code_is_consumed() {
    let app = spawn_app().await;
    let (id, code) = app.issue("+447911123456").await;
    assert_eq!(app.verify(&id, &code).await.status, 200);

    let replay = app.verify(&id, &code).await;

    assert_eq!(replay.status, 409);
    assert_eq!(replay.body["status"], "consumed");
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = spawn_app().await;
    let sent = app
        .send(&json!({"channel": "sms", "to": "+447911123456", "ttl_seconds": 60}))
        .await;
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let code = app.last_code().await;
    app.advance(59);
    let early = app.verify(&id, &wrong_code(&code)).await;
    assert_eq!(early.body["status"], "incorrect", "still valid at 59 s");
    app.advance(1);

    let reply = app.verify(&id, &code).await;

    assert_eq!(reply.status, 410);
    assert_eq!(reply.body["status"], "expired");
}

#[tokio::test]
async fn an_unknown_id_is_not_found_and_a_malformed_one_is_invalid() {
    let app = spawn_app().await;
    let reply = app
        .verify("abcdefghijklmnopqrstuvwxyz234567", "123456")
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["status"], "not_found");

    let reply = app.verify("not-an-id", "123456").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["field"], "id");
}

#[tokio::test]
async fn invalid_verifies_are_400_problems_naming_the_field() {
    let app = spawn_app().await;
    let id = app.send_sms("+447911123456").await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cases = [
        (json!({"code": "123456"}), "id", "missing id"),
        (json!({"id": id}), "code", "missing code"),
        (
            json!({"id": id, "code": 123456}),
            "code",
            "code as a number",
        ),
        (json!({"id": id, "code": ""}), "code", "empty code"),
        (
            json!({"id": id, "code": "12345!"}),
            "code",
            "code with symbols",
        ),
        (
            json!({"id": id, "code": "1".repeat(40)}),
            "code",
            "absurdly long code",
        ),
        (
            json!({"id": id, "code": "123456", "user": "x"}),
            "user",
            "unknown field",
        ),
    ];
    for (body, field, case) in cases {
        let reply = app.post("/v1/otp/verify", &body).await;
        assert_eq!(reply.status, 400, "{case}: {}", reply.body);
        assert_eq!(reply.body["field"], field, "{case}");
        assert!(
            !reply.body.to_string().contains("123456"),
            "{case} echoes the code"
        );
    }
    // None of those counted as an attempt.
    let code = app.last_code().await;
    assert_eq!(
        app.verify(&id, &wrong_code(&code)).await.body["attempts_remaining"],
        4
    );
}

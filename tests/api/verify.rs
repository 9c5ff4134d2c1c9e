use serde_json::json;

use crate::helpers::{spawn_app, wrong_code};

#[tokio::test]
async fn send_outbox_verify_approves_with_the_send_details() {
    let app = spawn_app().await;
    let sent = app
        .server_send(&json!({"channel": "sms", "to": "+447911123456", "purpose": "login", "reference": "order-42"}))
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
        .server_send(&json!({"channel": "email", "to": "ana@example.com", "alphabet": "alphanumeric", "length": 8}))
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
        .server_send(&json!({"channel": "sms", "to": "+447911123456", "ttl_seconds": 60}))
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

/// An unknown id must cost what a known one costs: the same parsing, the same keyed hash, the same
/// single store operation, so timing does not tell an attacker which ids exist. Compared with codes
/// already used (`consumed`): a wrong code also writes to the destination's guess budget, which is
/// work an unknown id cannot cause. Measured in process, with the two kinds interleaved so that
/// anything else the machine does lands on both alike; medians, with a tolerance wide enough for a
/// busy CI machine.
#[tokio::test]
async fn an_unknown_id_takes_as_long_as_a_known_one() {
    use otp_shared::adapters::OsRandomness;
    use otp_shared::domain::{ChallengeId, CodeAttempt};
    use otp_shared::usecases::{Requester, VerifyRequest};
    use std::time::{Duration, Instant};

    const CHALLENGES: usize = 150;
    const ROUNDS: usize = 4;
    let secret = otp_shared::ServiceSecret::parse("uniform timing test secret, 32+ bytes").unwrap();
    let recorder = crate::helpers::Recorder::default();
    let otp = crate::helpers::otp_with(recorder.clone(), &secret);
    let post = |path: &str, body: serde_json::Value| {
        lambda_http::http::Request::post(path)
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(body.to_string()))
            .unwrap()
    };
    let request = |id: &str, code: &str| VerifyRequest {
        id: ChallengeId::parse(id).unwrap(),
        code: CodeAttempt::parse(code).unwrap(),
        requester: Requester::Browser(None),
    };
    let mut ids = Vec::new();
    for n in 0..CHALLENGES {
        let sent = otp_shared::http::send(
            &otp,
            post(
                "/v1/otp/send",
                json!({"channel": "email", "to": format!("timing-{n}@example.com")}),
            ),
        )
        .await
        .unwrap();
        assert_eq!(sent.status(), 202);
        let body: serde_json::Value = serde_json::from_slice(sent.body().as_ref()).unwrap();
        let id = body["id"].as_str().unwrap().to_owned();
        let text = recorder.last().text;
        let code = text
            .split_whitespace()
            .find(|word| word.len() == 6 && word.bytes().all(|b| b.is_ascii_digit()))
            .expect("the email shows the code")
            .to_owned();
        crate::logs::sensitive(&code);
        let used = otp.verify(request(&id, &code)).await.unwrap();
        assert_eq!(used.outcome.status(), "approved");
        ids.push(id);
    }
    // The use case itself: the HTTP layer around it is the same for both, and only dilutes the
    // difference an early return would make.
    let time = |id: String| {
        let otp = &otp;
        let request = request(&id, "000000");
        async move {
            let started = Instant::now();
            let verification = otp.verify(request).await.unwrap();
            (verification.outcome.status().to_owned(), started.elapsed())
        }
    };
    // Warm-up, so neither kind pays for first-use costs.
    for _ in 0..50 {
        time(ChallengeId::generate(&OsRandomness).as_str().to_owned()).await;
    }
    let (mut unknown, mut known) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        for id in &ids {
            // Alternate which goes first, so neither always follows the other.
            let unknown_id = ChallengeId::generate(&OsRandomness).as_str().to_owned();
            let pair = if (round + known.len()) % 2 == 0 {
                let a = time(unknown_id).await;
                (a, time(id.clone()).await)
            } else {
                let b = time(id.clone()).await;
                (time(unknown_id).await, b)
            };
            let ((unknown_status, unknown_took), (known_status, known_took)) = pair;
            assert_eq!(unknown_status, "not_found");
            assert_eq!(known_status, "consumed");
            unknown.push(unknown_took);
            known.push(known_took);
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (unknown, known) = (median(&mut unknown), median(&mut known));
    let (slower, faster) = (unknown.max(known), unknown.min(known));
    println!("TIMING verify medians: not_found {unknown:?}, consumed {known:?}");
    assert!(
        slower.as_secs_f64() <= faster.as_secs_f64() * 1.25
            || slower - faster < Duration::from_micros(10),
        "not_found median {unknown:?} vs consumed median {known:?}: more than 25% apart"
    );
}

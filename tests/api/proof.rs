//! Proof tokens, checked as an app's backend checks them: by docs/api.md's Python example
//! (`examples/backend/verify_token.py`, PyJWT) against otp-local's `/.well-known/jwks.json`.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::totp::App;

/// What the backend example says of `token`: its claims, or why it was rejected.
/// Runs off the test's runtime, which also serves otp-local (the example fetches the key set).
async fn backend_verdict(app: &TestApp, token: &str) -> Result<Value, String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let python = format!("{root}/.venv/bin/python");
    assert!(
        std::path::Path::new(&python).exists(),
        "the backend example needs PyJWT in .venv: run the tests with `bash tests/run.sh`"
    );
    let mut command = Command::new(python);
    command
        .arg(format!("{root}/examples/backend/verify_token.py"))
        .arg(format!("{}/.well-known/jwks.json", app.address))
        .arg(token);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run the backend example");
    if output.status.success() {
        Ok(serde_json::from_slice(&output.stdout).expect("the claims as JSON"))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Flips one claim in the token's payload, keeping its signature.
fn tampered(token: &str, claim: &str, value: Value) -> String {
    use data_encoding::BASE64URL_NOPAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&BASE64URL_NOPAD.decode(parts[1].as_bytes()).unwrap()).unwrap();
    claims[claim] = value;
    parts[1] = BASE64URL_NOPAD.encode(claims.to_string().as_bytes());
    parts.join(".")
}

#[tokio::test]
async fn an_sms_approval_carries_a_token_the_backend_example_accepts() {
    let app = spawn_app().await;
    // A reference is the backend's to set: the server send.
    let sent = app
        .server_send(&json!({"channel": "sms", "to": "+44 7911 123456", "purpose": "login", "reference": "order-42"}))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let code = app.last_code().await;

    let wrong = app.verify(&id, "000000").await;
    assert!(
        wrong.body.get("token").is_none(),
        "only approvals carry one"
    );
    let approved = app.verify(&id, &code).await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    let token = approved.body["token"].as_str().expect("a token").to_owned();

    let claims = backend_verdict(&app, &token)
        .await
        .expect("the backend accepts the token");
    assert_eq!(claims["phone_number"], "+447911123456");
    assert_eq!(claims["phone_number_verified"], true);
    assert_eq!(claims["jti"], id.as_str());
    assert_eq!(claims["purpose"], "login");
    assert_eq!(claims["reference"], "order-42");
    assert_eq!(claims["amr"], json!(["sms", "otp"]));
    assert_eq!(claims["iss"], "otp-lambda");
    assert_eq!(claims["aud"], "otp-lambda-clients");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    assert!(claims.get("email").is_none() && claims.get("sub").is_none());

    let replay = app.verify(&id, &code).await;
    assert!(replay.body.get("token").is_none());

    for (claim, value) in [
        ("phone_number", json!("+447700900000")),
        ("exp", json!(claims["exp"].as_i64().unwrap() + 3600)),
        ("aud", json!("someone-else")),
    ] {
        let verdict = backend_verdict(&app, &tampered(&token, claim, value)).await;
        let error = verdict.expect_err("a tampered token is rejected");
        assert!(error.contains("rejected"), "{claim}: {error}");
    }
}

#[tokio::test]
async fn an_email_approval_names_the_address_and_a_totp_one_the_user() {
    let app = spawn_app().await;
    let sent = app
        .send(&json!({"channel": "email", "to": "ana.lima@example.com"}))
        .await;
    let sent_id = sent.body["id"].as_str().unwrap().to_owned();
    let body = app.outbox().await.last().unwrap()["body"]
        .as_str()
        .unwrap()
        .to_owned();
    // The email's third line is the code.
    let code = body.lines().nth(2).unwrap().trim().to_owned();
    let approved = app.verify(&sent_id, &code).await;
    let token = approved.body["token"].as_str().expect("a token");
    let claims = backend_verdict(&app, token).await.unwrap();
    assert_eq!(claims["email"], "ana.lima@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["amr"], json!(["otp"]));
    assert_eq!(claims["method"], "email");

    let enrolled = app
        .enroll(json!({"user_id": "user-9", "issuer": "Acme", "account": "ana"}))
        .await;
    let authenticator = App::scan(&enrolled);
    // The browser's verify, with the challenge its backend got: the token names the challenge's user.
    let approved = app
        .verify_by_challenge("user-9", &authenticator.code(&app, 0))
        .await;
    let claims = backend_verdict(&app, approved.body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["sub"], "user-9");
    assert_eq!(claims["method"], "totp");
    assert_eq!(claims["amr"], json!(["otp"]));
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32, "a fresh id");

    let recovery = enrolled.body["recovery_codes"][0].as_str().unwrap();
    let approved = app.recover_by_challenge("user-9", recovery).await;
    let claims = backend_verdict(&app, approved.body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["sub"], "user-9");
    assert_eq!(claims["method"], "recovery_code");

    // The backend's own verify by user id gives the same proof (the next step's code: the clock
    // stays at the backend example's time).
    let approved = app
        .verify_totp("user-9", &authenticator.code(&app, 1))
        .await;
    let claims = backend_verdict(&app, approved.body["token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["sub"], "user-9");
    assert_eq!(claims["method"], "totp");
}

#[tokio::test]
async fn an_expired_token_is_rejected() {
    let app = spawn_app().await;
    // Everything happens an hour ago: the token expired long before the backend sees it.
    use otp_shared::ports::Clock as _;
    app.clock
        .set(app.clock.now() - std::time::Duration::from_secs(3600));
    let (id, code) = app.issue("+447911123456").await;
    let approved = app.verify(&id, &code).await;
    let token = approved.body["token"].as_str().expect("a token");

    let error = backend_verdict(&app, token).await.expect_err("expired");
    assert!(error.contains("ExpiredSignatureError"), "{error}");
}

#[tokio::test]
async fn the_key_set_is_published_cacheable_with_ed25519_keys() {
    let app = spawn_app().await;
    let reply = app.get("/.well-known/jwks.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.headers["cache-control"], "public, max-age=300");
    let keys = reply.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["x"].as_str().unwrap().len(), 43, "32 bytes, base64url");
    assert!(key.get("d").is_none(), "never the private key");

    let post = app.post("/.well-known/jwks.json", &json!({})).await;
    assert_eq!(post.status, 405);
}

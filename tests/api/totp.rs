//! Authenticator apps over HTTP, on both stores: enrolment, confirmation, replay, concurrency,
//! lockout and its expiry, recovery codes, replace, delete and pending expiry. Codes come from
//! totp-rs built from the Key URI alone, as an app that scanned the QR code would build them.

use serde_json::{Value, json};
use totp_rs::Totp;

use crate::helpers::{Reply, TestApp, spawn_app};

/// The authenticator app: everything it knows comes from the Key URI in the enrol reply.
pub struct App(Totp);

impl App {
    pub fn scan(enrolled: &Reply) -> Self {
        let uri = enrolled.body["otpauth_uri"]
            .as_str()
            .expect("an otpauth_uri");
        Self(Totp::from_url(uri).expect("a standard Key URI"))
    }

    /// The code the app shows `offset` steps from the app's clock.
    pub fn code(&self, app: &TestApp, offset: i64) -> String {
        let now = app.clock_unix() as i64 + offset * self.0.step() as i64;
        self.0.generate(now as u64).to_string()
    }
}

impl TestApp {
    pub fn clock_unix(&self) -> u64 {
        use otp_shared::ports::Clock;
        self.clock.now().unix_timestamp() as u64
    }

    pub async fn enroll(&self, body: Value) -> Reply {
        self.post("/v1/totp/enroll", &body).await
    }

    /// Enrols `user` with the defaults; panics unless created.
    async fn enroll_user(&self, user: &str) -> (Reply, App) {
        let reply = self
            .enroll(json!({"user_id": user, "issuer": "Acme", "account": "ana@example.com"}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let app = App::scan(&reply);
        (reply, app)
    }

    /// Enrols and confirms `user`: an active enrolment.
    async fn activate(&self, user: &str) -> (Reply, App) {
        let (reply, app) = self.enroll_user(user).await;
        let confirmed = self.verify_totp(user, &app.code(self, 0)).await;
        assert_eq!(confirmed.body["status"], "approved", "{}", confirmed.body);
        (reply, app)
    }

    pub async fn verify_totp(&self, user: &str, code: &str) -> Reply {
        self.post("/v1/otp/verify", &json!({"user_id": user, "code": code}))
            .await
    }

    pub async fn recover(&self, user: &str, code: &str) -> Reply {
        self.post(
            "/v1/otp/verify",
            &json!({"user_id": user, "recovery_code": code}),
        )
        .await
    }

    async fn delete(&self, path: &str) -> Reply {
        let response = self
            .client
            .delete(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }
}

fn time_of(value: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        value.as_str().expect("a timestamp"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

#[tokio::test]
async fn enrolment_gives_a_standard_key_uri_and_the_first_code_activates_it() {
    let app = spawn_app().await;
    let (enrolled, authenticator) = app.enroll_user("user-1").await;
    let body = &enrolled.body;

    assert_eq!(enrolled.headers["cache-control"], "no-store");
    assert_eq!(body["user_id"], "user-1");
    assert_eq!(body["status"], "pending");
    let secret = body["secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in unpadded base32");
    assert!(
        secret
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    );
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    // totp-rs leaves default parameters out of its URIs; ours always writes them.
    assert!(
        uri.starts_with(&authenticator.0.to_url().unwrap()),
        "an app reading the URI gets the same secret and labels back: {uri}"
    );
    assert!(
        uri.starts_with("otpauth://totp/Acme:ana%40example.com?"),
        "{uri}"
    );
    for parameter in ["issuer=Acme", "algorithm=SHA1", "digits=6", "period=30"] {
        assert!(uri.contains(parameter), "{uri} lacks {parameter}");
    }
    assert!(body["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        body["qr_png"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let codes: Vec<&str> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        10
    );
    let pending_until = time_of(&body["expires_at"]);
    assert_eq!(
        (pending_until.unix_timestamp() as u64) - app.clock_unix(),
        15 * 60
    );

    let status = app.get("/v1/totp/enroll/user-1").await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["status"], "pending");
    assert_eq!(status.body["last_used_at"], Value::Null);
    assert!(
        !status.body.to_string().contains(secret),
        "the status never shows the secret"
    );

    app.advance(20);
    let confirmed = app
        .verify_totp("user-1", &authenticator.code(&app, 0))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["status"], "approved");
    assert_eq!(confirmed.body["method"], "totp");
    assert_eq!(confirmed.body["activated"], true);

    let status = app.get("/v1/totp/enroll/user-1").await;
    assert_eq!(status.body["status"], "active");
    assert_eq!(status.body["recovery_codes_remaining"], 10);
    assert_eq!(
        time_of(&status.body["last_used_at"]).unix_timestamp() as u64,
        app.clock_unix()
    );
    assert!(status.body.get("expires_at").is_none());

    // Once active, a later code approves without "activated".
    app.advance(30);
    let later = app
        .verify_totp("user-1", &authenticator.code(&app, 0))
        .await;
    assert_eq!(later.body["status"], "approved");
    assert!(later.body.get("activated").is_none());
}

#[tokio::test]
async fn eight_digit_sha512_sixty_second_codes_are_checked_as_enrolled() {
    let app = spawn_app().await;
    let enrolled = app
        .enroll(
            json!({"user_id": "user-2", "issuer": "Société Générale", "account": "Zoë Ångström",
                       "digits": 8, "algorithm": "SHA512", "period": 60}),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let uri = enrolled.body["otpauth_uri"].as_str().unwrap();
    for parameter in ["algorithm=SHA512", "digits=8", "period=60"] {
        assert!(uri.contains(parameter), "{uri} lacks {parameter}");
    }
    let authenticator = App::scan(&enrolled);
    assert_eq!(authenticator.0.issuer(), Some("Société Générale"));
    assert_eq!(authenticator.0.account_name(), "Zoë Ångström");
    let code = authenticator.code(&app, 0);
    assert_eq!(code.len(), 8);
    assert_eq!(
        app.verify_totp("user-2", &code).await.body["status"],
        "approved"
    );
    let status = app.get("/v1/totp/enroll/user-2").await;
    assert_eq!(status.body["algorithm"], "SHA512");
    assert_eq!(status.body["digits"], 8);
    assert_eq!(status.body["period"], 60);
}

#[tokio::test]
async fn each_time_step_is_accepted_once_and_never_an_older_one_after_it() {
    let app = spawn_app().await;
    let (_, authenticator) = app.activate("user-3").await;

    // The confirming code's step is spent.
    let replay = app
        .verify_totp("user-3", &authenticator.code(&app, 0))
        .await;
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert_eq!(replay.body["status"], "consumed");

    // The next step's code (one step of drift is allowed) is accepted once...
    let ahead = authenticator.code(&app, 1);
    assert_eq!(
        app.verify_totp("user-3", &ahead).await.body["status"],
        "approved"
    );
    assert_eq!(
        app.verify_totp("user-3", &ahead).await.body["status"],
        "consumed"
    );
    // ...and after it, an older step's code is refused though still inside the window.
    app.advance(30);
    let older = authenticator.code(&app, -1);
    assert_eq!(
        app.verify_totp("user-3", &older).await.body["status"],
        "consumed"
    );
    // A refused replay is not a failure: the count is untouched.
    let wrong = app.verify_totp("user-3", "000000").await;
    assert_eq!(wrong.body["attempts_remaining"], 4, "{}", wrong.body);

    // Two steps on, a fresh code is accepted; codes beyond one step of drift are not.
    app.advance(60);
    assert_eq!(
        app.verify_totp("user-3", &authenticator.code(&app, 2))
            .await
            .body["status"],
        "incorrect"
    );
    assert_eq!(
        app.verify_totp("user-3", &authenticator.code(&app, 0))
            .await
            .body["status"],
        "approved"
    );
}

#[tokio::test]
async fn concurrent_uses_of_one_code_give_exactly_one_approval() {
    let app = spawn_app().await;
    let (_, authenticator) = app.activate("user-4").await;
    app.advance(30);
    let code = authenticator.code(&app, 0);

    let replies =
        futures::future::join_all((0..20).map(|_| app.verify_totp("user-4", &code))).await;

    let statuses: Vec<_> = replies
        .iter()
        .map(|r| r.body["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "approved").count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| s == "approved" || s == "consumed"),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn five_wrong_codes_lock_for_fifteen_minutes_and_a_success_resets_the_count() {
    let app = spawn_app().await;
    let (_, authenticator) = app.activate("user-5").await;

    // Four wrong, then a right one: the count starts again.
    for remaining in [4, 3, 2, 1] {
        let reply = app.verify_totp("user-5", "000000").await;
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(reply.body["status"], "incorrect");
        assert_eq!(reply.body["attempts_remaining"], remaining);
    }
    app.advance(30);
    assert_eq!(
        app.verify_totp("user-5", &authenticator.code(&app, 0))
            .await
            .body["status"],
        "approved"
    );

    for remaining in [4, 3, 2, 1] {
        let reply = app.verify_totp("user-5", "000000").await;
        assert_eq!(reply.body["attempts_remaining"], remaining);
    }
    let locked = app.verify_totp("user-5", "000000").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(locked.body["status"], "locked");
    assert_eq!(locked.retry_after(), 900);
    let locked_at = app.clock_unix();

    // While locked even the right code is refused, and so is a recovery code.
    app.advance(30);
    let right = app
        .verify_totp("user-5", &authenticator.code(&app, 0))
        .await;
    assert_eq!(right.status, 429);
    assert_eq!(right.retry_after(), 870);
    let status = app.get("/v1/totp/enroll/user-5").await;
    assert_eq!(
        time_of(&status.body["locked_until"]).unix_timestamp() as u64,
        locked_at + 900
    );

    // The lock ends by itself.
    app.advance(870);
    let after = app
        .verify_totp("user-5", &authenticator.code(&app, 0))
        .await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert!(
        app.get("/v1/totp/enroll/user-5")
            .await
            .body
            .get("locked_until")
            .is_none()
    );
}

#[tokio::test]
async fn recovery_codes_work_once_each_and_say_how_many_remain() {
    let app = spawn_app().await;
    let (enrolled, _) = app.enroll_user("user-6").await;
    let codes: Vec<String> = enrolled.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();

    // Not while pending: an unconfirmed enrolment proves nothing yet.
    let pending = app.recover("user-6", &codes[0]).await;
    assert_eq!(pending.body["status"], "incorrect", "{}", pending.body);

    let authenticator = App::scan(&enrolled);
    app.verify_totp("user-6", &authenticator.code(&app, 0))
        .await;

    let used = app.recover("user-6", &codes[0]).await;
    assert_eq!(used.status, 200, "{}", used.body);
    assert_eq!(used.body["status"], "approved");
    assert_eq!(used.body["method"], "recovery_code");
    assert_eq!(used.body["recovery_codes_remaining"], 9);

    let again = app.recover("user-6", &codes[0]).await;
    assert_eq!(again.status, 422);
    assert_eq!(again.body["status"], "incorrect");

    // Typed loosely: lower case, spaces instead of the dash.
    let typed = codes[1].to_lowercase().replace('-', " ");
    assert_eq!(
        app.recover("user-6", &typed).await.body["recovery_codes_remaining"],
        8
    );
    assert_eq!(
        app.get("/v1/totp/enroll/user-6").await.body["recovery_codes_remaining"],
        8
    );

    // Wrong recovery codes count toward the same lockout.
    for _ in 0..4 {
        app.recover("user-6", "AAAAA-AAAAA").await;
    }
    let locked = app.recover("user-6", "AAAAA-AAAAA").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(app.recover("user-6", &codes[2]).await.status, 429);
}

#[tokio::test]
async fn an_active_enrolment_is_replaced_only_when_asked_and_the_old_secret_stops_at_once() {
    let app = spawn_app().await;
    let (first, old) = app.activate("user-7").await;

    let refused = app
        .enroll(json!({"user_id": "user-7", "issuer": "Acme", "account": "ana"}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.content_type(), "application/problem+json");
    assert_eq!(
        refused.body["type"],
        "urn:problem-type:otp-lambda:totp-already-enrolled"
    );
    // The refusal changed nothing.
    app.advance(30);
    assert_eq!(
        app.verify_totp("user-7", &old.code(&app, 0)).await.body["status"],
        "approved"
    );

    let replaced = app
        .enroll(json!({"user_id": "user-7", "issuer": "Acme", "account": "ana", "replace": true}))
        .await;
    assert_eq!(replaced.status, 201, "{}", replaced.body);
    assert_ne!(replaced.body["secret"], first.body["secret"]);
    let new = App::scan(&replaced);

    app.advance(30);
    assert_eq!(
        app.verify_totp("user-7", &old.code(&app, 0)).await.body["status"],
        "incorrect",
        "the replaced secret no longer works"
    );
    let old_recovery = first.body["recovery_codes"][0].as_str().unwrap();
    assert_eq!(
        app.recover("user-7", old_recovery).await.body["status"],
        "incorrect"
    );
    let confirmed = app.verify_totp("user-7", &new.code(&app, 0)).await;
    assert_eq!(confirmed.body["status"], "approved");
    assert_eq!(confirmed.body["activated"], true);
}

#[tokio::test]
async fn a_pending_enrolment_can_be_restarted_and_lapses_after_fifteen_minutes() {
    let app = spawn_app().await;
    let (first, _) = app.enroll_user("user-8").await;
    // Still pending: enrolling again needs no `replace`.
    let (second, authenticator) = app.enroll_user("user-8").await;
    assert_ne!(first.body["secret"], second.body["secret"]);

    app.advance(15 * 60);
    let lapsed = app
        .verify_totp("user-8", &authenticator.code(&app, 0))
        .await;
    assert_eq!(lapsed.status, 404, "{}", lapsed.body);
    assert_eq!(lapsed.body["status"], "not_found");
    assert_eq!(app.get("/v1/totp/enroll/user-8").await.status, 404);
    // A lapsed enrolment does not block a new one.
    app.enroll_user("user-8").await;
}

#[tokio::test]
async fn delete_removes_the_enrolment_at_once() {
    let app = spawn_app().await;
    let (enrolled, authenticator) = app.activate("ana@example.com").await;

    // `@` may arrive percent-encoded in the path.
    let removed = app.delete("/v1/totp/enroll/ana%40example.com").await;
    assert_eq!(removed.status, 204);
    assert_eq!(removed.body, Value::Null);

    app.advance(30);
    let verify = app
        .verify_totp("ana@example.com", &authenticator.code(&app, 0))
        .await;
    assert_eq!(verify.status, 404);
    assert_eq!(verify.body["status"], "not_found");
    let recovery = enrolled.body["recovery_codes"][0].as_str().unwrap();
    assert_eq!(
        app.recover("ana@example.com", recovery).await.body["status"],
        "not_found"
    );
    let status = app.get("/v1/totp/enroll/ana@example.com").await;
    assert_eq!(status.status, 404);
    assert_eq!(
        status.body["type"],
        "urn:problem-type:otp-lambda:totp-not-enrolled"
    );
    assert_eq!(
        app.delete("/v1/totp/enroll/ana@example.com").await.status,
        404
    );
    // And the user may enrol afresh.
    app.enroll_user("ana@example.com").await;
}

#[tokio::test]
async fn bad_enrolments_and_verifies_are_400_problems_naming_the_field() {
    let app = spawn_app().await;
    let base = json!({"user_id": "user-9", "issuer": "Acme", "account": "ana"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("user_id", json!("a".repeat(129))), "user_id"),
        (with("user_id", json!("a/b")), "user_id"),
        (with("issuer", json!("Acme:Corp")), "issuer"),
        (with("account", json!("")), "account"),
        (with("digits", json!(7)), "digits"),
        (with("algorithm", json!("MD5")), "algorithm"),
        (with("period", json!(45)), "period"),
        (with("replace", json!("yes")), "replace"),
        (json!({"issuer": "Acme", "account": "ana"}), "user_id"),
        (json!({"user_id": "u", "account": "ana"}), "issuer"),
        (with("secret", json!("JBSWY3DPEHPK3PXP")), "secret"),
    ];
    for (body, field) in cases {
        let reply = app.enroll(body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.content_type(), "application/problem+json");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
    }

    let verifies = [
        (
            json!({"user_id": "u", "id": "x", "code": "123456"}),
            "user_id",
        ),
        (
            json!({"user_id": "u", "code": "123456", "recovery_code": "AAAAA-AAAAA"}),
            "recovery_code",
        ),
        (json!({"user_id": "u"}), "code"),
        (json!({"user_id": "a b", "code": "123456"}), "user_id"),
    ];
    for (body, field) in verifies {
        let reply = app.post("/v1/otp/verify", &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
    }

    let bad_path = app.get("/v1/totp/enroll/a%20b").await;
    assert_eq!(bad_path.status, 400, "{}", bad_path.body);
    assert_eq!(bad_path.body["field"], "user_id");
    assert_eq!(app.get("/v1/totp/enroll/a/b").await.status, 404);
    let put = app
        .client
        .put(format!("{}/v1/totp/enroll/user-9", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "GET, DELETE");
    // Enrolment is POST only.
    assert_eq!(app.get("/v1/totp/enroll").await.status, 405);
}

#[tokio::test]
async fn a_code_for_a_user_with_no_enrolment_is_not_found() {
    let app = spawn_app().await;
    let reply = app.verify_totp("nobody", "123456").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["status"], "not_found");
    assert_eq!(reply.content_type(), "application/json");
}

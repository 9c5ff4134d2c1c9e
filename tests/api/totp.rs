//! Authenticator apps over HTTP, on both stores: enrolment, confirmation, replay, concurrency,
//! lockout and its expiry, recovery codes, replace, delete and pending expiry; the trust boundary
//! around them (enrolment and challenges are server routes; a browser names no user, only a
//! challenge its backend got). Codes come from totp-rs built from the Key URI alone, as an app that
//! scanned the QR code would build them.

use reqwest::Method;
use serde_json::{Value, json};
use totp_rs::Totp;

use crate::helpers::{Reply, TestApp, reply_of, spawn_app};

const VERIFY: &str = "/v1/otp/verify";
const SERVER_VERIFY: &str = "/v1/server/otp/verify";
const ENROLL: &str = "/v1/server/totp/enroll";
const CHALLENGE: &str = "/v1/server/totp/challenge";

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

    /// `POST /v1/server/totp/enroll`, as the app's backend.
    pub async fn enroll(&self, body: Value) -> Reply {
        self.server_post(ENROLL, &body).await
    }

    /// `GET /v1/server/totp/enroll/{user}`, as the app's backend.
    pub async fn enrollment(&self, user: &str) -> Reply {
        self.server_request(Method::GET, &format!("{ENROLL}/{user}"), None)
            .await
    }

    /// `DELETE /v1/server/totp/enroll/{user}`, as the app's backend.
    pub async fn unenroll(&self, user: &str) -> Reply {
        self.server_request(Method::DELETE, &format!("{ENROLL}/{user}"), None)
            .await
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
        let confirmed = self.verify_by_challenge(user, &app.code(self, 0)).await;
        assert_eq!(confirmed.body["status"], "approved", "{}", confirmed.body);
        (reply, app)
    }

    /// `POST /v1/server/totp/challenge` for `user`, as the app's backend.
    pub async fn challenge(&self, user: &str) -> Reply {
        self.server_post(CHALLENGE, &json!({"user_id": user})).await
    }

    /// A challenge for `user`; panics unless issued.
    pub async fn challenge_id(&self, user: &str) -> String {
        let reply = self.challenge(user).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let id = reply.body["challenge_id"].as_str().expect("a challenge_id");
        crate::logs::sensitive(id);
        id.to_owned()
    }

    /// The browser's verify: `{challenge_id, code}` on the public route.
    pub async fn verify_challenge(&self, challenge_id: &str, code: &str) -> Reply {
        self.post(VERIFY, &json!({"challenge_id": challenge_id, "code": code}))
            .await
    }

    /// The browser's recovery: `{challenge_id, recovery_code}` on the public route.
    pub async fn recover_challenge(&self, challenge_id: &str, code: &str) -> Reply {
        self.post(
            VERIFY,
            &json!({"challenge_id": challenge_id, "recovery_code": code}),
        )
        .await
    }

    /// As an app does it: its backend asks for a challenge for `user`, the browser sends it with
    /// the code to the public verify.
    pub async fn verify_by_challenge(&self, user: &str, code: &str) -> Reply {
        let challenge = self.challenge_id(user).await;
        self.verify_challenge(&challenge, code).await
    }

    /// [`Self::verify_by_challenge`] with a recovery code.
    pub async fn recover_by_challenge(&self, user: &str, code: &str) -> Reply {
        let challenge = self.challenge_id(user).await;
        self.recover_challenge(&challenge, code).await
    }

    /// The backend's own verify: `{user_id, code}` on `POST /v1/server/otp/verify`.
    pub async fn verify_totp(&self, user: &str, code: &str) -> Reply {
        self.server_post(SERVER_VERIFY, &json!({"user_id": user, "code": code}))
            .await
    }

    /// The backend's own verify of a recovery code: `{user_id, recovery_code}`.
    pub async fn recover(&self, user: &str, code: &str) -> Reply {
        self.server_post(
            SERVER_VERIFY,
            &json!({"user_id": user, "recovery_code": code}),
        )
        .await
    }

    /// A request with the given `Authorization` header (or none) instead of the server key.
    async fn request_with_authorization(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        authorization: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        reply_of(request.send().await.expect("request")).await
    }
}

fn time_of(value: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        value.as_str().expect("a timestamp"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

fn assert_problem(reply: &Reply, status: u16, kind: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(
        reply.body["type"],
        format!("urn:problem-type:otp-lambda:{kind}"),
        "{}",
        reply.body
    );
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

    let status = app.enrollment("user-1").await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["status"], "pending");
    assert_eq!(status.body["last_used_at"], Value::Null);
    assert!(
        !status.body.to_string().contains(secret),
        "the status never shows the secret"
    );

    // A pending enrolment can be challenged: its first code confirms it.
    app.advance(20);
    let confirmed = app
        .verify_by_challenge("user-1", &authenticator.code(&app, 0))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["status"], "approved");
    assert_eq!(confirmed.body["user_id"], "user-1");
    assert_eq!(confirmed.body["method"], "totp");
    assert_eq!(confirmed.body["activated"], true);
    assert!(confirmed.body["token"].is_string(), "{}", confirmed.body);

    let status = app.enrollment("user-1").await;
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
        .verify_by_challenge("user-1", &authenticator.code(&app, 0))
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
        app.verify_by_challenge("user-2", &code).await.body["status"],
        "approved"
    );
    let status = app.enrollment("user-2").await;
    assert_eq!(status.body["algorithm"], "SHA512");
    assert_eq!(status.body["digits"], 8);
    assert_eq!(status.body["period"], 60);
}

#[tokio::test]
async fn each_time_step_is_accepted_once_and_never_an_older_one_after_it() {
    let app = spawn_app().await;
    let (_, authenticator) = app.activate("user-3").await;
    // One challenge serves the whole sign-in, retries included.
    let challenge = app.challenge_id("user-3").await;

    // The confirming code's step is spent.
    let replay = app
        .verify_challenge(&challenge, &authenticator.code(&app, 0))
        .await;
    assert_eq!(replay.status, 409, "{}", replay.body);
    assert_eq!(replay.body["status"], "consumed");

    // The next step's code (one step of drift is allowed) is accepted once...
    let ahead = authenticator.code(&app, 1);
    assert_eq!(
        app.verify_challenge(&challenge, &ahead).await.body["status"],
        "approved"
    );
    assert_eq!(
        app.verify_challenge(&challenge, &ahead).await.body["status"],
        "consumed"
    );
    // ...and after it, an older step's code is refused though still inside the window.
    app.advance(30);
    let older = authenticator.code(&app, -1);
    assert_eq!(
        app.verify_challenge(&challenge, &older).await.body["status"],
        "consumed"
    );
    // A refused replay is not a failure: the count is untouched.
    let wrong = app.verify_challenge(&challenge, "000000").await;
    assert_eq!(wrong.body["attempts_remaining"], 9, "{}", wrong.body);

    // Two steps on, a fresh code is accepted; codes beyond one step of drift are not.
    app.advance(60);
    assert_eq!(
        app.verify_challenge(&challenge, &authenticator.code(&app, 2))
            .await
            .body["status"],
        "incorrect"
    );
    assert_eq!(
        app.verify_challenge(&challenge, &authenticator.code(&app, 0))
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
    let challenge = app.challenge_id("user-4").await;

    // Through the browser's route with one challenge and the backend's with the user id at once.
    let replies = futures::future::join_all((0..20).map(|i| {
        let (app, code, challenge) = (&app, &code, &challenge);
        async move {
            if i % 2 == 0 {
                app.verify_challenge(challenge, code).await
            } else {
                app.verify_totp("user-4", code).await
            }
        }
    }))
    .await;

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
async fn ten_wrong_codes_lock_their_network_out_for_fifteen_minutes_then_twice_as_long() {
    let app = spawn_app().await;
    let (_, authenticator) = app.activate("user-5").await;
    let challenge = app.challenge_id("user-5").await;

    // Nine wrong, then a right one: the count starts again.
    for remaining in (1..=9).rev() {
        let reply = app.verify_challenge(&challenge, "000000").await;
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert_eq!(reply.body["status"], "incorrect");
        assert_eq!(reply.body["attempts_remaining"], remaining);
    }
    app.advance(30);
    assert_eq!(
        app.verify_challenge(&challenge, &authenticator.code(&app, 0))
            .await
            .body["status"],
        "approved"
    );

    // Wrong codes and wrong recovery codes from one browser network count toward one lock.
    for remaining in (1..=9).rev() {
        let reply = if remaining % 2 == 0 {
            app.verify_challenge(&challenge, "000000").await
        } else {
            app.recover_challenge(&challenge, "AAAAA-AAAAA").await
        };
        assert_eq!(
            reply.body["attempts_remaining"], remaining,
            "{}",
            reply.body
        );
    }
    let locked = app.verify_challenge(&challenge, "000000").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(locked.body["status"], "locked");
    assert_eq!(locked.retry_after(), 900);
    let locked_at = app.clock_unix();

    // While locked, that network's right code is refused, and so is its recovery code.
    app.advance(30);
    let right = app
        .verify_by_challenge("user-5", &authenticator.code(&app, 0))
        .await;
    assert_eq!(right.status, 429);
    assert_eq!(right.retry_after(), 870);
    assert_eq!(
        time_of(&right.body["locked_until"]).unix_timestamp() as u64,
        locked_at + 900
    );
    let status = app.enrollment("user-5").await;
    assert_eq!(status.body["locked_networks"], 1, "{}", status.body);
    assert!(
        status.body.get("locked_until").is_none(),
        "not for everyone"
    );

    // The user on another network, and the app's backend, are not locked out: their right codes
    // are accepted, and leave the locked network locked.
    let other = app.challenge_id("user-5").await;
    let from_home = app
        .post_from(
            "127.0.0.2",
            VERIFY,
            &json!({"challenge_id": other, "code": authenticator.code(&app, 0)}),
        )
        .await;
    assert_eq!(from_home.status, 200, "{}", from_home.body);
    app.advance(30);
    let by_backend = app
        .verify_totp("user-5", &authenticator.code(&app, 0))
        .await;
    assert_eq!(by_backend.status, 200, "{}", by_backend.body);
    let still = app.verify_challenge(&other, "000000").await;
    assert_eq!(still.status, 429, "{}", still.body);

    // The lock ends by itself; ten more wrong codes from that network lock it for twice as long.
    app.advance(840);
    for remaining in (1..=9).rev() {
        let reply = app.verify_by_challenge("user-5", "000000").await;
        assert_eq!(
            reply.body["attempts_remaining"], remaining,
            "{}",
            reply.body
        );
    }
    let locked = app.verify_by_challenge("user-5", "000000").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(locked.retry_after(), 1800);
    let locked_at = app.clock_unix();
    assert_eq!(
        time_of(&locked.body["locked_until"]).unix_timestamp() as u64,
        locked_at + 1800,
        "{}",
        locked.body
    );
    app.advance(1799);
    let right = app
        .verify_by_challenge("user-5", &authenticator.code(&app, 0))
        .await;
    assert_eq!(right.status, 429, "{}", right.body);
    assert_eq!(right.retry_after(), 1);

    // Once it ends, that network's right code is accepted, and its success resets the escalation:
    // the next lock is fifteen minutes again.
    app.advance(1);
    let after = app
        .verify_by_challenge("user-5", &authenticator.code(&app, 0))
        .await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(app.enrollment("user-5").await.body["locked_networks"], 0);
    for _ in 0..9 {
        assert_eq!(
            app.verify_by_challenge("user-5", "000000").await.body["status"],
            "incorrect"
        );
    }
    let locked = app.verify_by_challenge("user-5", "000000").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(locked.retry_after(), 900);

    // The backend's own wrong codes count under its principal, not the browser's network.
    let wrong = app.verify_totp("user-5", "000000").await;
    assert_eq!(wrong.body["attempts_remaining"], 9, "{}", wrong.body);
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
    for code in &codes {
        crate::logs::sensitive(code);
    }

    // Not while pending: an unconfirmed enrolment proves nothing yet.
    let pending = app.recover_by_challenge("user-6", &codes[0]).await;
    assert_eq!(pending.body["status"], "incorrect", "{}", pending.body);

    let authenticator = App::scan(&enrolled);
    app.verify_by_challenge("user-6", &authenticator.code(&app, 0))
        .await;

    let challenge = app.challenge_id("user-6").await;
    let used = app.recover_challenge(&challenge, &codes[0]).await;
    assert_eq!(used.status, 200, "{}", used.body);
    assert_eq!(used.body["status"], "approved");
    assert_eq!(used.body["user_id"], "user-6");
    assert_eq!(used.body["method"], "recovery_code");
    assert_eq!(used.body["recovery_codes_remaining"], 9);

    let again = app.recover_challenge(&challenge, &codes[0]).await;
    assert_eq!(again.status, 422);
    assert_eq!(again.body["status"], "incorrect");
    // Nor on the backend's route.
    assert_eq!(
        app.recover("user-6", &codes[0]).await.body["status"],
        "incorrect"
    );

    // Typed loosely: lower case, spaces instead of the dash.
    let typed = codes[1].to_lowercase().replace('-', " ");
    assert_eq!(
        app.recover_challenge(&challenge, &typed).await.body["recovery_codes_remaining"],
        8
    );
    // The backend may check one itself.
    let by_backend = app.recover("user-6", &codes[2]).await;
    assert_eq!(by_backend.body["status"], "approved", "{}", by_backend.body);
    assert_eq!(by_backend.body["recovery_codes_remaining"], 7);
    assert_eq!(
        app.enrollment("user-6").await.body["recovery_codes_remaining"],
        7
    );

    // Wrong recovery codes count toward the same lockout.
    for _ in 0..9 {
        app.recover_challenge(&challenge, "AAAAA-AAAAA").await;
    }
    let locked = app.recover_challenge(&challenge, "AAAAA-AAAAA").await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert_eq!(
        app.recover_challenge(&challenge, &codes[3]).await.status,
        429
    );
}

#[tokio::test]
async fn an_active_enrolment_is_replaced_only_when_asked_and_the_old_secret_stops_at_once() {
    let app = spawn_app().await;
    let (first, old) = app.activate("user-7").await;

    let refused = app
        .enroll(json!({"user_id": "user-7", "issuer": "Acme", "account": "ana"}))
        .await;
    assert_problem(&refused, 409, "totp-already-enrolled");
    // The refusal changed nothing.
    app.advance(30);
    assert_eq!(
        app.verify_by_challenge("user-7", &old.code(&app, 0))
            .await
            .body["status"],
        "approved"
    );
    // A challenge issued before the replacement...
    let before = app.challenge_id("user-7").await;

    let replaced = app
        .enroll(json!({"user_id": "user-7", "issuer": "Acme", "account": "ana", "replace": true}))
        .await;
    assert_eq!(replaced.status, 201, "{}", replaced.body);
    assert_ne!(replaced.body["secret"], first.body["secret"]);
    let new = App::scan(&replaced);

    app.advance(30);
    assert_eq!(
        app.verify_by_challenge("user-7", &old.code(&app, 0))
            .await
            .body["status"],
        "incorrect",
        "the replaced secret no longer works"
    );
    let old_recovery = first.body["recovery_codes"][0].as_str().unwrap();
    assert_eq!(
        app.recover_by_challenge("user-7", old_recovery).await.body["status"],
        "incorrect"
    );
    // ...was issued against the replaced enrolment: it does not carry over to the new one.
    let stale = app.verify_challenge(&before, &new.code(&app, 0)).await;
    assert_eq!(stale.status, 404, "{}", stale.body);
    assert_eq!(stale.body["status"], "not_found");
    let confirmed = app.verify_by_challenge("user-7", &new.code(&app, 0)).await;
    assert_eq!(confirmed.body["status"], "approved", "{}", confirmed.body);
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
    assert_problem(&app.challenge("user-8").await, 404, "totp-not-enrolled");
    assert_eq!(app.enrollment("user-8").await.status, 404);
    // A lapsed enrolment does not block a new one.
    app.enroll_user("user-8").await;
}

#[tokio::test]
async fn delete_removes_the_enrolment_at_once() {
    let app = spawn_app().await;
    let (enrolled, authenticator) = app.activate("ana@example.com").await;
    let challenge = app.challenge_id("ana@example.com").await;

    // `@` may arrive percent-encoded in the path.
    let removed = app.unenroll("ana%40example.com").await;
    assert_eq!(removed.status, 204);
    assert_eq!(removed.body, Value::Null);

    app.advance(30);
    // A challenge issued before the removal finds nothing to check.
    let verify = app
        .verify_challenge(&challenge, &authenticator.code(&app, 0))
        .await;
    assert_eq!(verify.status, 404, "{}", verify.body);
    assert_eq!(verify.body["status"], "not_found");
    assert_eq!(
        app.verify_totp("ana@example.com", &authenticator.code(&app, 0))
            .await
            .body["status"],
        "not_found"
    );
    let recovery = enrolled.body["recovery_codes"][0].as_str().unwrap();
    assert_eq!(
        app.recover_challenge(&challenge, recovery).await.body["status"],
        "not_found"
    );
    assert_eq!(
        app.recover("ana@example.com", recovery).await.body["status"],
        "not_found"
    );
    assert_problem(
        &app.enrollment("ana@example.com").await,
        404,
        "totp-not-enrolled",
    );
    assert_problem(
        &app.challenge("ana@example.com").await,
        404,
        "totp-not-enrolled",
    );
    assert_eq!(app.unenroll("ana@example.com").await.status, 404);
    // And the user may enrol afresh.
    app.enroll_user("ana@example.com").await;
}

#[tokio::test]
async fn bad_enrolments_challenges_and_verifies_are_400_problems_naming_the_field() {
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
        assert_problem(&reply, 400, "invalid-request");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
    }

    let challenges = [
        (json!({}), "user_id"),
        (json!({"user_id": "a b"}), "user_id"),
        (json!({"user_id": 42}), "user_id"),
        (json!({"user_id": "user-9", "issuer": "Acme"}), "issuer"),
    ];
    for (body, field) in challenges {
        let reply = app.server_post(CHALLENGE, &body).await;
        assert_problem(&reply, 400, "invalid-request");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
    }

    // The backend's verify names the user.
    let server_verifies = [
        (
            json!({"user_id": "u", "id": "x", "code": "123456"}),
            "user_id",
        ),
        (
            json!({"user_id": "u", "challenge_id": "x", "code": "123456"}),
            "user_id",
        ),
        (
            json!({"user_id": "u", "code": "123456", "recovery_code": "AAAAA-AAAAA"}),
            "recovery_code",
        ),
        (json!({"user_id": "u"}), "code"),
        (json!({"user_id": "a b", "code": "123456"}), "user_id"),
    ];
    for (body, field) in server_verifies {
        let reply = app.server_post(SERVER_VERIFY, &body).await;
        assert_problem(&reply, 400, "invalid-request");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
    }
    // The browser's names a challenge.
    let challenge = {
        app.enroll_user("user-9").await;
        app.challenge_id("user-9").await
    };
    let public_verifies = [
        (
            json!({"challenge_id": challenge, "id": "x", "code": "123456"}),
            "challenge_id",
        ),
        (
            json!({"challenge_id": challenge, "code": "123456", "recovery_code": "AAAAA-AAAAA"}),
            "recovery_code",
        ),
        (json!({"challenge_id": challenge}), "code"),
        (
            json!({"challenge_id": "", "code": "123456"}),
            "challenge_id",
        ),
        (
            json!({"challenge_id": "x".repeat(513), "code": "123456"}),
            "challenge_id",
        ),
        (json!({"challenge_id": 7, "code": "123456"}), "challenge_id"),
        (
            json!({"id": "x", "recovery_code": "AAAAA-AAAAA"}),
            "recovery_code",
        ),
        (json!({"code": "123456"}), "id"),
    ];
    for (body, field) in public_verifies {
        let reply = app.post(VERIFY, &body).await;
        assert_problem(&reply, 400, "invalid-request");
        assert_eq!(reply.body["field"], field, "{body}: {}", reply.body);
    }

    let bad_path = app.enrollment("a%20b").await;
    assert_problem(&bad_path, 400, "invalid-request");
    assert_eq!(bad_path.body["field"], "user_id");
    assert_eq!(app.enrollment("a/b").await.status, 404);
    let put = app
        .server_request(Method::PUT, &format!("{ENROLL}/user-9"), None)
        .await;
    assert_eq!(put.status, 405);
    assert_eq!(put.headers["allow"], "GET, DELETE");
    // Enrolment and challenges are POST only.
    assert_eq!(
        app.server_request(Method::GET, ENROLL, None).await.status,
        405
    );
    assert_eq!(
        app.server_request(Method::GET, CHALLENGE, None)
            .await
            .status,
        405
    );
    // The old routes are gone.
    for path in ["/v1/totp/enroll", "/v1/totp/enroll/user-9"] {
        assert_eq!(app.get(path).await.status, 404, "{path}");
    }
    assert_eq!(
        app.post("/v1/totp/enroll", &base).await.status,
        404,
        "not an enrolment with no credentials"
    );
}

#[tokio::test]
async fn a_body_without_json_content_type_is_415_on_the_server_routes() {
    let app = spawn_app().await;
    for path in [ENROLL, CHALLENGE, SERVER_VERIFY] {
        for content_type in [None, Some("text/plain")] {
            let mut request = app
                .client
                .post(format!("{}{path}", app.address))
                .bearer_auth(&app.server_key)
                .body(r#"{"user_id":"user-10","issuer":"Acme","account":"ana"}"#);
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let reply = reply_of(request.send().await.unwrap()).await;
            assert_problem(&reply, 415, "unsupported-media-type");
        }
    }
    assert_eq!(
        app.enrollment("user-10").await.status,
        404,
        "nothing enrolled"
    );
}

#[tokio::test]
async fn a_code_for_a_user_with_no_enrolment_is_not_found() {
    let app = spawn_app().await;
    let reply = app.verify_totp("nobody", "123456").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["status"], "not_found");
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(
        app.recover("nobody", "AAAAA-AAAAA").await.body["status"],
        "not_found"
    );
    // No challenge for such a user, so the browser has nothing to send.
    let challenge = app.challenge("nobody").await;
    assert_problem(&challenge, 404, "totp-not-enrolled");
    assert!(challenge.body.get("challenge_id").is_none());
}

/// The browser names no user: `user_id` on the public verify is refused before anything is looked
/// up, with one answer for every user, and counts toward nobody's lock.
#[tokio::test]
async fn a_user_id_on_the_public_verify_is_400_for_every_user_and_counts_no_failure() {
    let app = spawn_app().await;
    let (enrolled, authenticator) = app.activate("user-11").await;
    app.advance(30);
    let right = authenticator.code(&app, 0);
    let recovery = enrolled.body["recovery_codes"][0].as_str().unwrap();

    let refusal = |user: &str, i: usize| match i % 4 {
        0 => json!({"user_id": user, "code": right}),
        1 => json!({"user_id": user, "code": "000000"}),
        2 => json!({"user_id": user, "recovery_code": recovery}),
        _ => json!({"user_id": user, "recovery_code": "AAAAA-AAAAA"}),
    };
    let mut enrolled_replies = Vec::new();
    for i in 0..5 {
        let known = app.post(VERIFY, &refusal("user-11", i)).await;
        let unknown = app.post(VERIFY, &refusal("nobody-11", i)).await;
        assert_problem(&known, 400, "invalid-request");
        assert_eq!(known.body["field"], "user_id", "{}", known.body);
        assert_eq!(
            (known.status, &known.body),
            (unknown.status, &unknown.body),
            "an enrolled and an unknown user are answered alike"
        );
        assert_eq!(known.headers.get("retry-after"), None);
        enrolled_replies.push(known.body);
    }
    assert!(
        enrolled_replies.windows(2).all(|w| w[0] == w[1]),
        "right or wrong, code or recovery code: one answer {enrolled_replies:?}"
    );
    // With a challenge beside it, still refused.
    let challenge = app.challenge_id("user-11").await;
    let both = app
        .post(
            VERIFY,
            &json!({"user_id": "user-11", "challenge_id": challenge, "code": right}),
        )
        .await;
    assert_problem(&both, 400, "invalid-request");
    assert_eq!(both.body["field"], "user_id");

    // Nothing counted, nothing spent: the enrolment is unlocked, the count untouched, and the right
    // code and recovery code (sent above) still work.
    let status = app.enrollment("user-11").await;
    assert!(status.body.get("locked_until").is_none(), "{}", status.body);
    assert_eq!(status.body["recovery_codes_remaining"], 10);
    let wrong = app.verify_challenge(&challenge, "000000").await;
    assert_eq!(wrong.body["attempts_remaining"], 9, "{}", wrong.body);
    let approved = app.verify_challenge(&challenge, &right).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    let recovered = app.recover_challenge(&challenge, recovery).await;
    assert_eq!(
        recovered.body["recovery_codes_remaining"], 9,
        "{}",
        recovered.body
    );
}

/// Enrolment, its status and removal, challenges and the backend's verify answer only the server key.
#[tokio::test]
async fn server_routes_without_the_server_key_are_401_and_change_nothing() {
    let app = spawn_app().await;
    let (_, authenticator) = app.activate("user-12").await;
    let enrol = json!({"user_id": "user-12", "issuer": "Evil", "account": "x", "replace": true});
    let challenge = json!({"user_id": "user-12"});
    let verify = json!({"user_id": "user-12", "code": "000000"});
    let requests: [(Method, String, Option<&Value>); 6] = [
        (Method::POST, ENROLL.to_owned(), Some(&enrol)),
        (Method::GET, format!("{ENROLL}/user-12"), None),
        (Method::DELETE, format!("{ENROLL}/user-12"), None),
        (Method::POST, CHALLENGE.to_owned(), Some(&challenge)),
        (Method::POST, SERVER_VERIFY.to_owned(), Some(&verify)),
        (
            Method::POST,
            "/v1/server/otp/send".to_owned(),
            Some(&json!({"channel": "sms", "to": "+447911123456"})),
        ),
    ];
    let wrong_key = format!("{}x", app.server_key);
    let authorizations = [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Bearer {wrong_key}")),
        Some(format!("Bearer {}", &app.server_key[1..])),
        Some(format!("Basic {}", app.server_key)),
        Some(format!("bearer{}", app.server_key)),
        Some(app.server_key.clone()),
    ];
    for (method, path, body) in &requests {
        for authorization in &authorizations {
            let reply = app
                .request_with_authorization(method.clone(), path, *body, authorization.as_deref())
                .await;
            assert_problem(&reply, 401, "unauthorized");
            assert!(
                reply.headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer"),
                "{method} {path}"
            );
            assert!(
                !reply.body.to_string().contains("user-12"),
                "{method} {path}: {}",
                reply.body
            );
        }
    }
    // A bad body is not looked at without the key.
    let reply = app
        .request_with_authorization(Method::POST, ENROLL, Some(&json!({"user_id": 1})), None)
        .await;
    assert_problem(&reply, 401, "unauthorized");

    // The enrolment is as it was: not replaced, not removed, not locked.
    let status = app.enrollment("user-12").await;
    assert_eq!(status.body["status"], "active", "{}", status.body);
    assert!(status.body.get("locked_until").is_none());
    app.advance(30);
    assert_eq!(
        app.verify_by_challenge("user-12", &authenticator.code(&app, 0))
            .await
            .body["status"],
        "approved"
    );
    assert!(app.outbox().await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_challenge_names_its_user_for_five_minutes_and_cannot_be_forged() {
    let app = spawn_app().await;
    let (_, ana) = app.activate("ana-13").await;
    let (_, bo) = app.activate("bo-13").await;
    app.advance(30);

    let issued_at = app.clock_unix();
    let issued = app.challenge("ana-13").await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    assert_eq!(issued.content_type(), "application/json");
    assert_eq!(issued.headers["cache-control"], "no-store");
    assert_eq!(issued.body["user_id"], "ana-13");
    assert_eq!(
        time_of(&issued.body["expires_at"]).unix_timestamp() as u64,
        app.clock_unix() + 300
    );
    let challenge = issued.body["challenge_id"].as_str().unwrap().to_owned();
    crate::logs::sensitive(&challenge);
    assert!(
        !challenge.contains("ana-13"),
        "opaque: the user is sealed inside"
    );
    assert_ne!(
        app.challenge_id("ana-13").await,
        challenge,
        "each challenge is fresh"
    );

    // The challenge checks its own user's code: not Bo's, whatever the browser sends.
    let bo_code = bo.code(&app, 0);
    let ana_code = ana.code(&app, 0);
    if bo_code != ana_code {
        let other = app.verify_challenge(&challenge, &bo_code).await;
        assert_eq!(other.body["status"], "incorrect", "{}", other.body);
        assert_eq!(other.body["user_id"], "ana-13");
    }
    let approved = app.verify_challenge(&challenge, &ana_code).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["user_id"], "ana-13");
    // The backend may send the browser's form too.
    assert_eq!(
        app.server_post(
            SERVER_VERIFY,
            &json!({"challenge_id": challenge, "code": ana_code})
        )
        .await
        .body["status"],
        "consumed"
    );

    // Altered, cut short, padded, or someone else's: not a challenge we issued.
    let mut flipped = challenge.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other_service = {
        let other = spawn_app().await;
        other.enroll_user("ana-13").await;
        other.challenge_id("ana-13").await
    };
    let (sms_id, _) = app.issue("+447911123413").await;
    let forged = [
        flipped,
        challenge[..challenge.len() - 4].to_owned(),
        format!("{challenge}AAAA"),
        format!("{challenge}="),
        challenge.replace(|c: char| c.is_ascii_alphanumeric(), "A"),
        "not a challenge".to_owned(),
        other_service,
        sms_id,
    ];
    app.advance(30);
    let right = ana.code(&app, 0);
    for forgery in forged {
        let reply = app.verify_challenge(&forgery, &right).await;
        assert_problem(&reply, 400, "invalid-request");
        assert_eq!(
            reply.body["field"], "challenge_id",
            "{forgery}: {}",
            reply.body
        );
        let reply = app.recover_challenge(&forgery, "AAAAA-AAAAA").await;
        assert_eq!(
            reply.body["field"], "challenge_id",
            "{forgery}: {}",
            reply.body
        );
    }
    // None of that counted against Ana, and the real challenge still works.
    let again = app.verify_challenge(&challenge, &right).await;
    assert_eq!(again.body["status"], "approved", "{}", again.body);

    // Good for five minutes from its issue, then 410: ask the backend for a new one.
    app.advance(issued_at + 301 - app.clock_unix());
    let expired = app.verify_challenge(&challenge, &ana.code(&app, 0)).await;
    assert_problem(&expired, 410, "challenge-expired");
    assert!(expired.body.get("token").is_none());
    let expired = app.recover_challenge(&challenge, "AAAAA-AAAAA").await;
    assert_problem(&expired, 410, "challenge-expired");
    let fresh = app.verify_by_challenge("ana-13", &ana.code(&app, 0)).await;
    assert_eq!(fresh.body["status"], "approved", "{}", fresh.body);
}

#[tokio::test]
async fn a_challenge_lapses_after_exactly_five_minutes() {
    let app = spawn_app().await;
    let (_, authenticator) = app.activate("user-14").await;
    let challenge = app.challenge_id("user-14").await;
    app.advance(299);
    let wrong = app.verify_challenge(&challenge, "000000").await;
    assert_eq!(wrong.body["status"], "incorrect", "{}", wrong.body);
    app.advance(2);
    let expired = app
        .verify_challenge(&challenge, &authenticator.code(&app, 0))
        .await;
    assert_problem(&expired, 410, "challenge-expired");
    // An expired challenge is not a wrong code.
    let status = app.enrollment("user-14").await;
    assert!(status.body.get("locked_until").is_none());
    let next = app.verify_by_challenge("user-14", "000000").await;
    assert_eq!(next.body["attempts_remaining"], 8, "{}", next.body);
}

/// otp-local's demo backend holds the server key for the demo page: enrolment, its status and
/// challenges without a key, and nothing else.
#[tokio::test]
async fn the_demo_backend_enrols_reads_and_challenges_and_nothing_more() {
    let app = spawn_app().await;
    let enrolled = app
        .post(
            "/_local/demo/totp/enroll",
            &json!({"user_id": "demo-15", "issuer": "Acme", "account": "ana"}),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let authenticator = App::scan(&enrolled);
    let status = app.get("/_local/demo/totp/enroll/demo-15").await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["status"], "pending");
    let challenge = app
        .post(
            "/_local/demo/totp/challenge",
            &json!({"user_id": "demo-15"}),
        )
        .await;
    assert_eq!(challenge.status, 201, "{}", challenge.body);
    let challenge = challenge.body["challenge_id"].as_str().unwrap();
    let approved = app
        .verify_challenge(challenge, &authenticator.code(&app, 0))
        .await;
    assert_eq!(approved.body["activated"], true, "{}", approved.body);
    assert_eq!(
        app.get("/_local/demo/totp/enroll/demo-15").await.body["status"],
        "active"
    );
    assert_problem(
        &app.post("/_local/demo/totp/challenge", &json!({"user_id": "nobody"}))
            .await,
        404,
        "totp-not-enrolled",
    );

    // Not the removal, not the backend's verify or send.
    let delete = app
        .client
        .delete(format!("{}/_local/demo/totp/enroll/demo-15", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405, "only reading, as the demo page does");
    for (path, body) in [
        (
            "/_local/demo/otp/verify",
            json!({"user_id": "demo-15", "code": "000000"}),
        ),
        (
            "/_local/demo/otp/send",
            json!({"channel": "sms", "to": "+447911123456", "reference": "x"}),
        ),
    ] {
        assert_eq!(app.post(path, &body).await.status, 404, "{path}");
    }
    let post = app
        .post("/_local/demo/totp/enroll/demo-15", &json!({}))
        .await;
    assert_eq!(post.status, 405, "{}", post.body);
    assert_eq!(post.headers["allow"], "GET");
    assert_eq!(app.enrollment("demo-15").await.body["status"], "active");
    assert!(app.outbox().await.is_empty());
}

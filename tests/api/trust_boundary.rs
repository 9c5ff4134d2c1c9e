//! The trust boundary: on the public routes a stranger's browser chooses only the profile, the
//! destination and values from the profile's lists; whatever changes a code's strength, lifetime,
//! text or binding comes from the operator's profiles or from the app's backend on `/v1/server/`.
//! Each attack a stranger could try is here with the answer that stops it, and its legitimate
//! form on the server route. Runs on both adapters.

use otp_shared::Settings;
use otp_shared::profiles::Profiles;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app, spawn_app_with};

/// The settings with the repository's ten example profiles.
fn with_example_profiles() -> Settings {
    let settings = Settings::default();
    let builtin = settings.profiles.default_profile().as_ref().clone();
    Settings {
        profiles: Profiles::parse(include_str!("../../examples/profiles.json"), builtin)
            .expect("the example profiles load"),
        ..settings
    }
}

fn assert_refused(reply: &Reply, field: &str, case: &str) {
    assert_eq!(reply.status, 400, "{case}: {}", reply.body);
    assert_eq!(
        reply.body["type"], "urn:problem-type:otp-lambda:invalid-request",
        "{case}"
    );
    assert_eq!(reply.body["field"], field, "{case}: {}", reply.body);
}

fn with(base: &Value, extra: Value) -> Value {
    let mut body = base.clone();
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn a_stranger_cannot_weaken_a_code_or_lengthen_its_life() {
    let app = spawn_app().await;
    let base = json!({"channel": "sms", "to": "+447911123456"});
    let attack = with(&base, json!({"length": 4, "ttl_seconds": 3600}));
    assert_refused(&app.send(&attack).await, "length", "4 digits for an hour");
    for (field, value) in [
        ("length", json!(10)),
        ("alphabet", json!("letters")),
        ("ttl_seconds", json!(60)),
        ("template", json!("{code}")),
        ("brand", json!("Acme")),
        ("reference", json!("order-1")),
    ] {
        let reply = app.send(&with(&base, json!({ field: value }))).await;
        assert_refused(&reply, field, field);
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains("/v1/server/otp/send"),
            "{}",
            reply.body
        );
    }
    assert!(app.outbox().await.is_empty(), "a refused send sent nothing");

    // The backend may choose, within the profile: stronger and shorter-lived, never the reverse.
    let stronger = app
        .server_send(&with(&base, json!({"length": 8, "ttl_seconds": 120})))
        .await;
    assert_eq!(stronger.status, 202, "{}", stronger.body);
    assert_eq!(app.last_code().await.len(), 8);
    let other = json!({"channel": "sms", "to": "+447911123457"});
    assert_refused(
        &app.server_send(&with(&other, json!({"length": 4}))).await,
        "length",
        "weaker than the profile, even for the backend",
    );
    assert_refused(
        &app.server_send(&with(&other, json!({"ttl_seconds": 3600})))
            .await,
        "ttl_seconds",
        "longer than the profile, even for the backend",
    );
    assert_refused(
        &app.server_send(&with(&other, json!({"ttl_seconds": 301})))
            .await,
        "ttl_seconds",
        "a second past the profile's lifetime",
    );
}

#[tokio::test]
async fn a_stranger_cannot_write_the_message() {
    let app = spawn_app().await;
    let phishing = json!({
        "channel": "email", "to": "victim@example.com", "brand": "PayPal Security",
        "template": "Account suspended: https://evil.example/r?c={code}"
    });
    assert_refused(&app.send(&phishing).await, "template", "a phishing text");
    let mut brand_only = phishing.clone();
    brand_only.as_object_mut().unwrap().remove("template");
    assert_refused(&app.send(&brand_only).await, "brand", "a brand");
    assert!(app.outbox().await.is_empty());

    // The app's backend writes its own text; an SMS must still fit one segment.
    let own = app
        .server_send(&json!({
            "channel": "sms", "to": "+447911123456", "brand": "Acme",
            "template": "{code} is your {brand} code"
        }))
        .await;
    assert_eq!(own.status, 202, "{}", own.body);
    let code = app.last_code().await;
    assert_eq!(
        app.outbox().await[0]["body"],
        format!("{code} is your Acme code")
    );
    let long = app
        .server_send(&json!({
            "channel": "sms", "to": "+447911123457",
            "template": format!("{{code}} {}", "x".repeat(200))
        }))
        .await;
    assert_refused(&long, "template", "an SMS over one segment");
}

#[tokio::test]
async fn only_the_profiles_origins_and_app_hashes_bind_an_sms() {
    let app = spawn_app_with(with_example_profiles()).await;
    // The built-in profile lists none: a stranger's origin or hash is refused.
    let base = json!({"channel": "sms", "to": "+447911123456"});
    for (field, value) in [("origin", "evil.example"), ("app_hash", "FA+9qCX9VSu")] {
        assert_refused(
            &app.send(&with(&base, json!({ field: value }))).await,
            field,
            "not on the default profile's list",
        );
    }
    let login = with(&base, json!({"profile": "login", "purpose": "login"}));
    assert_refused(
        &app.send(&with(&login, json!({"origin": "evil.example"})))
            .await,
        "origin",
        "an origin the profile does not list",
    );
    assert_refused(
        &app.send(&with(&login, json!({"app_hash": "AAAAAAAAAAA"})))
            .await,
        "app_hash",
        "an app hash the profile does not list",
    );
    assert!(app.outbox().await.is_empty());
    let bound = app
        .send(&with(
            &login,
            json!({"origin": "acme.example", "app_hash": "FA+9qCX9VSu"}),
        ))
        .await;
    assert_eq!(bound.status, 202, "{}", bound.body);
    let code = app.last_code().await;
    let body = app.outbox().await[0]["body"].as_str().unwrap().to_owned();
    assert!(
        body.ends_with(&format!("FA+9qCX9VSu\n@acme.example #{code}")),
        "{body}"
    );
}

#[tokio::test]
async fn a_profile_decides_channels_purposes_locales_fallback_and_strength() {
    let app = spawn_app_with(with_example_profiles()).await;
    let cases = [
        (json!({"profile": "nope"}), "profile", "an unknown profile"),
        (
            json!({"profile": "Bad Name!"}),
            "profile",
            "not a profile name",
        ),
        (
            json!({"profile": "onboarding-email"}),
            "channel",
            "SMS on an email-only profile",
        ),
        (
            json!({"profile": "checkout", "purpose": "login"}),
            "purpose",
            "a purpose the profile does not list",
        ),
        (
            json!({"profile": "checkout", "locale": "es"}),
            "locale",
            "a locale the profile does not list",
        ),
        (
            json!({"profile": "checkout", "fallback": {"channel": "email", "to": "a@example.com"}}),
            "fallback",
            "a fallback the profile does not allow",
        ),
    ];
    let base = json!({"channel": "sms", "to": "+447911123456"});
    for (extra, field, case) in cases {
        assert_refused(&app.send(&with(&base, extra)).await, field, case);
    }
    // The checkout profile: 8 digits, 3 attempts, its own text in the locale asked for.
    let reply = app
        .send(&with(
            &base,
            json!({"profile": "checkout", "locale": "fr-CA"}),
        ))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["purpose"], "confirm-payment", "the first listed");
    assert_eq!(reply.body["attempts_remaining"], 3);
    let code = app.last_code().await;
    assert_eq!(code.len(), 8);
    let body = app.outbox().await[0]["body"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        format!("{code} confirme votre paiement Acme Pay. Il expire dans 3 min.")
    );
    // A fallback where the profile allows one.
    let reply = app
        .send(
            &json!({"channel": "sms", "to": "+447911123457", "profile": "login",
                       "fallback": {"channel": "email", "to": "ana@example.com"}}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

#[tokio::test]
async fn a_body_without_a_json_media_type_is_415_on_every_route() {
    let app = spawn_app().await;
    let body = json!({"channel": "sms", "to": "+447911123456"})
        .to_string()
        .into_bytes();
    // Without Content-Type a cross-site form or fetch needs no CORS preflight.
    for path in [
        "/v1/otp/send",
        "/v1/otp/verify",
        "/v1/server/otp/send",
        "/v1/server/otp/verify",
        "/v1/server/totp/enroll",
        "/v1/server/totp/challenge",
    ] {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let mut request = app
                .client
                .post(format!("{}{path}", app.address))
                .bearer_auth(&app.server_key)
                .body(body.clone());
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let reply = crate::helpers::reply_of(request.send().await.unwrap()).await;
            assert_eq!(reply.status, 415, "{path} {content_type:?}: {}", reply.body);
        }
    }
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn server_routes_need_the_server_key() {
    let app = spawn_app().await;
    let send = json!({"channel": "sms", "to": "+447911123456"});
    for key in [None, Some("wrong-key-of-some-length"), Some("")] {
        for (path, body) in [
            ("/v1/server/otp/send", send.clone()),
            (
                "/v1/server/otp/verify",
                json!({"user_id": "u", "code": "123456"}),
            ),
            (
                "/v1/server/totp/enroll",
                json!({"user_id": "u", "issuer": "Acme", "account": "ana"}),
            ),
            ("/v1/server/totp/challenge", json!({"user_id": "u"})),
        ] {
            let mut request = app
                .client
                .post(format!("{}{path}", app.address))
                .header("content-type", "application/json")
                .body(body.to_string());
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let reply = crate::helpers::reply_of(request.send().await.unwrap()).await;
            assert_eq!(reply.status, 401, "{path} with {key:?}: {}", reply.body);
            assert_eq!(
                reply.body["type"],
                "urn:problem-type:otp-lambda:unauthorized"
            );
            assert!(reply.headers.contains_key("www-authenticate"));
        }
    }
    // The key of another server is not this one's, and the public route never reads a key.
    let reply = app.send(&send).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(app.outbox().await.len(), 1);
}

impl TestApp {
    /// A send with an `Idempotency-Key`, from `local` (a loopback address: another client network).
    async fn keyed_send_from(&self, local: &str, path: &str, key: &str, body: &Value) -> Reply {
        crate::logs::sensitive_fields(body);
        let client = reqwest::Client::builder()
            .local_address(local.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        let mut request = client
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body.to_string());
        if path.starts_with("/v1/server/") {
            request = request.bearer_auth(&self.server_key);
        }
        crate::helpers::reply_of(request.send().await.unwrap()).await
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_only_to_its_own_caller() {
    let app = spawn_app().await;
    let body = json!({"channel": "sms", "to": "+447911123456", "purpose": "login"});
    let key = "guessable-key-1";
    let first = app
        .keyed_send_from("127.0.0.1", "/v1/otp/send", key, &body)
        .await;
    assert_eq!(first.status, 202, "{}", first.body);
    let replay = app
        .keyed_send_from("127.0.0.1", "/v1/otp/send", key, &body)
        .await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["id"], first.body["id"]);

    // Another client network with the same key and body: a new request, never the first reply.
    app.advance(31);
    let stranger = app
        .keyed_send_from("127.0.0.2", "/v1/otp/send", key, &body)
        .await;
    assert_eq!(stranger.status, 202, "{}", stranger.body);
    assert!(!stranger.headers.contains_key("idempotent-replayed"));
    assert_ne!(stranger.body["id"], first.body["id"]);
    // Nor the backend's key on the server route.
    app.advance(31);
    let server = app
        .keyed_send_from("127.0.0.1", "/v1/server/otp/send", key, &body)
        .await;
    assert_eq!(server.status, 202, "{}", server.body);
    assert!(!server.headers.contains_key("idempotent-replayed"));
    assert_ne!(server.body["id"], first.body["id"]);
    assert_eq!(
        app.outbox().await.len(),
        3,
        "three requests, three messages"
    );
}

/// The claims of a proof token (its signature is checked in tests/api/proof.rs).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(payload.as_bytes())
            .expect("base64url"),
    )
    .expect("JSON claims")
}

#[tokio::test]
async fn a_transaction_is_shown_in_the_message_and_bound_to_the_approval() {
    let app = spawn_app_with(with_example_profiles()).await;
    let payment = json!({"amount": "12.50", "currency": "EUR", "payee": "Acme Ltd"});
    let checkout = |channel: &str, to: &str| json!({"channel": channel, "to": to, "profile": "checkout", "transaction": payment});
    // A stranger cannot name a payment; the backend only where the profile can show one.
    assert_refused(
        &app.send(&checkout("sms", "+447911123456")).await,
        "transaction",
        "a transaction on the public route",
    );
    assert_refused(
        &app.server_send(&json!({"channel": "sms", "to": "+447911123456", "transaction": payment}))
            .await,
        "transaction",
        "a profile without a transaction template",
    );
    let mut bad = checkout("sms", "+447911123456");
    bad["transaction"]["amount"] = json!("12,50");
    assert_refused(&app.server_send(&bad).await, "transaction", "a bad amount");
    let mut both = checkout("sms", "+447911123456");
    both["template"] = json!("{code}");
    assert_refused(
        &app.server_send(&both).await,
        "template",
        "own text and a transaction",
    );
    assert!(app.outbox().await.is_empty());

    for (channel, to) in [("sms", "+447911123456"), ("email", "ana@example.com")] {
        let sent = app.server_send(&checkout(channel, to)).await;
        assert_eq!(sent.status, 202, "{}", sent.body);
        let outbox = app.outbox().await;
        let body = outbox.last().unwrap()["body"].as_str().unwrap().to_owned();
        let code = body.split(':').next().unwrap().to_owned();
        crate::logs::sensitive(&code);
        assert_eq!(code.len(), 8, "{body}");
        assert!(
            body.contains("pay 12.50 EUR to Acme Ltd"),
            "{channel}: {body}"
        );
        let approved = app.verify(sent.body["id"].as_str().unwrap(), &code).await;
        assert_eq!(approved.status, 200, "{}", approved.body);
        assert_eq!(approved.body["transaction"], payment);
        let claims = claims(approved.body["token"].as_str().unwrap());
        assert_eq!(claims["transaction"], payment, "{claims}");
        assert_eq!(claims["aud"], "acme-payments", "the profile's audience");
    }
    // Codes of other profiles keep the service's audience and carry no transaction.
    let (id, code) = app.issue("+447911123457").await;
    let approved = app.verify(&id, &code).await;
    let claims = claims(approved.body["token"].as_str().unwrap());
    assert_eq!(claims["aud"], "otp-lambda-clients");
    assert!(claims.get("transaction").is_none());
    assert!(approved.body.get("transaction").is_none());
}

#[tokio::test]
async fn a_backend_only_field_is_refused_even_when_null() {
    let app = spawn_app().await;
    for field in [
        "length",
        "alphabet",
        "ttl_seconds",
        "template",
        "brand",
        "reference",
        "transaction",
    ] {
        let reply = app
            .send(&json!({"channel": "sms", "to": "+447911123456", field: null}))
            .await;
        assert_refused(&reply, field, "null is still setting it");
    }
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn the_backend_is_not_held_to_one_browsers_hourly_limit() {
    let app = spawn_app_with(Settings {
        limits: otp_shared::abuse::VelocityLimits {
            client_sends_per_hour: 2,
            ..Default::default()
        },
        ..Settings::default()
    })
    .await;
    // The backend sends for all its users from one address: only its destinations' limits apply.
    for n in 0..4 {
        let to = format!("+44791112345{n}");
        let reply = app.server_send(&json!({"channel": "sms", "to": to})).await;
        assert_eq!(reply.status, 202, "{n}: {}", reply.body);
    }
    // A browser at that address is still held to its own.
    for n in 0..2 {
        let to = format!("+44791112346{n}");
        assert_eq!(
            app.send(&json!({"channel": "sms", "to": to})).await.status,
            202
        );
    }
    let over = app
        .send(&json!({"channel": "sms", "to": "+447911123470"}))
        .await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert_eq!(
        over.body["type"],
        "urn:problem-type:otp-lambda:client-send-limit"
    );
}

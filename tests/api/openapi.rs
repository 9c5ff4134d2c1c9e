//! The OpenAPI document (`openapi.json`) and the handlers agree: otp-local serves the document,
//! every route it serves is documented and every documented operation is served, and real replies
//! have a documented status, content type, headers and body. `tests/schemathesis.sh` goes further
//! with generated requests.

use std::collections::BTreeSet;

use otp_shared::routes::{Auth, ROUTES, Route};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app, wrong_code};
use crate::totp::App;

/// Every route of the route table (`otp_shared::routes::ROUTES`, which otp-local's `route()` and
/// the Lambdas' routing read), as the document names operations: `(path, lower-case method)`.
fn routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|route| (route.path.to_owned(), route.method.to_ascii_lowercase()))
        .collect()
}

/// The table's route for a documented operation.
fn table_route(path: &str, method: &str) -> &'static Route {
    ROUTES
        .iter()
        .find(|route| route.path == path && route.method.eq_ignore_ascii_case(method))
        .unwrap_or_else(|| panic!("{method} {path} is not in the route table"))
}

/// The methods an OpenAPI path item may describe.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const NOT_FOUND: &str = "urn:problem-type:otp-lambda:not-found";

/// Whether `path` (a documented path) is a server route's, which answers `401` unless the server
/// key comes with it: the route table's server routes.
fn is_server(path: &str) -> bool {
    ROUTES
        .iter()
        .any(|route| route.path == path && route.auth == Auth::Server)
}

/// The document in the repository, which otp-local embeds.
pub fn document() -> Value {
    serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json is JSON")
}

/// Every documented operation: `(path, method)`.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if METHODS.contains(&method.as_str()) {
                operations.insert((path.clone(), method.clone()));
            }
        }
    }
    operations
}

/// A local `$ref` followed (once: the document's references do not chain).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => doc
            .pointer(reference.strip_prefix('#').expect("a local $ref"))
            .unwrap_or_else(|| panic!("{reference} resolves")),
        None => value,
    }
}

/// Errors of `instance` against `schema`, a schema of the document: validated as JSON Schema
/// 2020-12 (OpenAPI 3.1's dialect) with formats asserted, its `$ref`s resolved in the document's
/// components.
fn schema_errors(doc: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("a valid schema: {e}: {schema}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} (at {})", e.instance_path()))
        .collect()
}

/// Asserts `reply` is what `response` (a response object of the document) describes: its headers
/// (required ones present, values valid) and its content (media type and schema), or no body.
fn assert_matches_response(doc: &Value, response: &Value, reply: &Reply, what: &str) {
    let response = resolve(doc, response);
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        let header = resolve(doc, header);
        let Some(value) = reply.headers.get(name.to_ascii_lowercase().as_str()) else {
            assert_ne!(header["required"], true, "{what}: no {name} header");
            continue;
        };
        let text = value.to_str().expect("a text header");
        let value = match header["schema"]["type"].as_str() {
            Some("integer") => json!(
                text.parse::<i64>()
                    .unwrap_or_else(|_| panic!("{what}: {name} is not an integer: {text}"))
            ),
            _ => json!(text),
        };
        let errors = schema_errors(doc, &header["schema"], &value);
        assert!(errors.is_empty(), "{what}: header {name}: {errors:?}");
    }
    match response.get("content") {
        None => assert_eq!(
            reply.body,
            Value::Null,
            "{what}: a body where none is documented"
        ),
        Some(content) => {
            let media_type = reply.content_type().split(';').next().unwrap().trim();
            let schema = &content[media_type]["schema"];
            assert!(
                schema.is_object(),
                "{what}: {media_type} is not documented: {}",
                reply.body
            );
            let errors = schema_errors(doc, schema, &reply.body);
            assert!(errors.is_empty(), "{what}: {errors:?} in {:#}", reply.body);
        }
    }
}

/// Asserts `reply`, the answer to `method path` (a documented path), is one the operation documents.
pub fn assert_conforms(doc: &Value, method: &str, path: &str, reply: &Reply) {
    let what = format!("{} {path} → {}", method.to_uppercase(), reply.status);
    let operation = &doc["paths"][path][method];
    assert!(operation.is_object(), "{what}: no such operation");
    let response = &operation["responses"][reply.status.to_string()];
    assert!(
        response.is_object(),
        "{what}: status not documented: {}",
        reply.body
    );
    assert_matches_response(doc, response, reply, &what);
}

impl TestApp {
    /// `method path` as the document's clients send it: the server key on server routes (as the
    /// app's backend sends it), nothing on the others (as a browser does).
    async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let key = path
            .starts_with(otp_shared::routes::SERVER_PREFIX)
            .then_some(self.server_key.as_str());
        self.request_as(method, path, body, key).await
    }

    /// `method path` with `Authorization: Bearer <key>` when `key` is given, and a JSON body.
    async fn request_as(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Reply {
        let body = body.map(|body| {
            crate::logs::sensitive_fields(body);
            ("application/json", body.to_string().into_bytes())
        });
        self.raw(method, path, body, key).await
    }

    /// `method path` with exactly this body and media type, and the server key when `key` is given.
    async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        key: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.address));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let json = headers
            .get("content-type")
            .and_then(|t| t.to_str().ok())
            .is_some_and(|t| t.split(';').next().unwrap_or_default().ends_with("json"));
        // JSON bodies as JSON; the demo page's files as a string.
        let body = if bytes.is_empty() {
            Value::Null
        } else if json {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {bytes:?}"))
        } else {
            Value::String(String::from_utf8(bytes.to_vec()).expect("a text body"))
        };
        crate::logs::sensitive_fields(&body);
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// A documented path with its parameter filled in.
fn concrete(path: &str) -> String {
    path.replace("{user_id}", "openapi-probe")
}

#[tokio::test]
async fn otp_local_serves_the_document() {
    let app = spawn_app().await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.body["openapi"], "3.1.0");
    assert_eq!(
        reply.body,
        document(),
        "otp-local serves the repository's openapi.json"
    );
    assert_conforms(&document(), "get", "/openapi.json", &reply);
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_operation_is_served() {
    let app = spawn_app().await;
    let doc = document();
    let documented = operations(&doc);
    let routed = routes();
    assert_eq!(
        documented.difference(&routed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not in the route table (shared/src/routes.rs)"
    );
    assert_eq!(
        routed.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in the route table (shared/src/routes.rs) but not documented"
    );

    // Every documented operation is served: it answers a status it documents, never the generic
    // not-found of a path that is no route, nor 405.
    for (path, method) in &documented {
        let body = (method == "post").then(|| json!({}));
        let method_ = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let reply = app.request(method_, &concrete(path), body.as_ref()).await;
        assert_ne!(
            reply.body["type"], NOT_FOUND,
            "{method} {path} is not served"
        );
        assert_ne!(reply.status, 405, "{method} {path} is not served");
        assert_ne!(
            reply.status, 401,
            "{method} {path}: the server key was refused"
        );
        assert_conforms(&doc, method, path, &reply);
    }

    // The server routes, and only they, are documented with the server's security schemes (and
    // `401`); the others need no credentials.
    for (path, method) in &documented {
        let operation = &doc["paths"][path][method];
        let what = format!("{method} {path}");
        if is_server(path) {
            assert_eq!(
                operation["security"],
                json!([{"sigv4": []}, {"localServerKey": []}]),
                "{what}: security"
            );
            assert!(
                operation["responses"]["401"].is_object(),
                "{what}: 401 is not documented"
            );
        } else {
            assert!(
                operation.get("security").is_none_or(|s| s == &json!([])),
                "{what}: a public route with security"
            );
            assert!(
                operation["responses"].get("401").is_none(),
                "{what}: a public route documents 401"
            );
        }
    }

    // Every other method on a documented path is 405, with `Allow` naming the documented methods.
    for (path, item) in doc["paths"].as_object().unwrap() {
        let allowed: Vec<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_uppercase())
            .collect();
        for method in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // With the server key on server routes: what an authenticated backend is told.
            let reply = app.request(method.clone(), &concrete(path), None).await;
            let what = format!("{method} {path}");
            assert_eq!(reply.status, 405, "{what}: {}", reply.body);
            let mut allow: Vec<String> = reply.headers["allow"]
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            allow.sort();
            let mut expected = allowed.clone();
            expected.sort();
            assert_eq!(allow, expected, "{what}: Allow");
            if method != Method::HEAD {
                assert_matches_response(
                    &doc,
                    &json!({"$ref": "#/components/responses/MethodNotAllowed"}),
                    &reply,
                    &what,
                );
            }
        }
    }

    // The probe tells a route from no route: these paths are none, the enrolment routes' old
    // places among them.
    for path in [
        "/v1",
        "/v1/otp",
        "/v1/otp/send/",
        "/v1/server",
        "/v1/server/otp/send/",
        "/v1/server/totp/enroll/",
        "/v1/server/totp/enroll/a/b",
        "/v1/totp/enroll",
        "/v1/totp/enroll/openapi-probe",
        "/_local/demo/totp/enroll/",
        "/_local/demo/totp/enroll/a/b",
        "/openapi.yaml",
    ] {
        let reply = app.request(Method::GET, path, None).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.body["type"], NOT_FOUND, "{path}");
        assert_matches_response(
            &doc,
            &json!({"$ref": "#/components/responses/NotFound"}),
            &reply,
            path,
        );
    }

    // The route table's local-only routes, and only they, say so.
    for (path, method) in &documented {
        let local = doc["paths"][path][method]["x-local-only"] == true;
        assert_eq!(
            local,
            table_route(path, method).auth.is_local_only(),
            "{method} {path}: x-local-only"
        );
    }
}

#[tokio::test]
async fn every_problem_type_in_use_is_documented() {
    let doc = document();
    let documented: BTreeSet<&str> = doc["components"]["schemas"]["ProblemType"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    // The slugs `ApiError::problem()` in shared/src/http/error.rs gives: each arm's `("slug", "title")`.
    let source = include_str!("../../shared/src/http/error.rs");
    let body = source
        .split_once("fn problem(&self)")
        .and_then(|(_, rest)| rest.split_once("let detail"))
        .expect("error.rs has ApiError::problem() choosing (slug, title) before the detail")
        .0;
    let in_use: BTreeSet<String> = body
        .split('(')
        .filter_map(|piece| piece.trim_start().strip_prefix('"'))
        .filter_map(|piece| piece.split_once("\","))
        .map(|(slug, _)| slug)
        .filter(|slug| !slug.is_empty() && slug.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(|slug| format!("urn:problem-type:otp-lambda:{slug}"))
        .collect();
    // Refused sends take their slug from `SendError::refusal_reason` (metrics name them the same).
    let send = include_str!("../../shared/src/usecases/send.rs");
    let reasons = send
        .split_once("fn refusal_reason(&self)")
        .and_then(|(_, rest)| rest.split_once("fn fallback_reason"))
        .expect("send.rs has SendError::refusal_reason() before fallback_reason()")
        .0;
    let in_use: BTreeSet<String> = in_use
        .into_iter()
        .chain(
            reasons
                .split('"')
                .skip(1)
                .step_by(2)
                .map(|slug| format!("urn:problem-type:otp-lambda:{slug}")),
        )
        .collect();
    // And the full URNs written out elsewhere: otp-local's CORS preflight refusal.
    let cors = include_str!("../../infra/local/src/cors.rs");
    let in_use: BTreeSet<&str> = in_use
        .iter()
        .map(String::as_str)
        .chain(
            cors.split('"')
                .filter(|s| s.starts_with("urn:problem-type:")),
        )
        .collect();
    assert_eq!(in_use, documented);
}

#[tokio::test]
async fn real_replies_match_their_documented_schemas() {
    let app = spawn_app().await;
    let doc = document();
    let send = |reply: &Reply| assert_conforms(&doc, "post", "/v1/otp/send", reply);
    let verify = |reply: &Reply| assert_conforms(&doc, "post", "/v1/otp/verify", reply);
    let server_send = |reply: &Reply| assert_conforms(&doc, "post", "/v1/server/otp/send", reply);
    let server_verify =
        |reply: &Reply| assert_conforms(&doc, "post", "/v1/server/otp/verify", reply);

    // Send: accepted, refused while cooling down, invalid, a server-only field, wrong media type,
    // too large.
    let request = json!({"channel": "sms", "to": "+447911123456", "purpose": "login"});
    let sent = app.send(&request).await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    send(&sent);
    let cooling = app.send(&request).await;
    assert_eq!(cooling.status, 429, "{}", cooling.body);
    send(&cooling);
    let invalid = app.send(&json!({"channel": "fax", "to": "x"})).await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.body["field"], "channel");
    send(&invalid);
    let server_only = app
        .send(&json!({"channel": "sms", "to": "+447911123450", "reference": "order-1"}))
        .await;
    assert_eq!(server_only.status, 400, "{}", server_only.body);
    assert_eq!(server_only.body["field"], "reference");
    send(&server_only);
    let unsupported = app
        .post_raw("/v1/otp/send", Some("text/plain"), b"{}".to_vec())
        .await;
    assert_eq!(unsupported.status, 415);
    send(&unsupported);
    let no_media_type = app.post_raw("/v1/otp/send", None, b"{}".to_vec()).await;
    assert_eq!(no_media_type.status, 415);
    send(&no_media_type);
    let too_large = app
        .post_raw(
            "/v1/otp/send",
            Some("application/json"),
            vec![b' '; 17 * 1024],
        )
        .await;
    assert_eq!(too_large.status, 400);
    assert_eq!(
        too_large.body["type"],
        "urn:problem-type:otp-lambda:body-too-large"
    );
    send(&too_large);

    // Verify a sent code: incorrect, approved, consumed; an unknown id; a malformed one; a
    // `user_id`, which only the backend may send.
    let id = sent.body["id"].as_str().unwrap();
    let code = app.last_code().await;
    let incorrect = app.verify(id, &wrong_code(&code)).await;
    assert_eq!(incorrect.status, 422, "{}", incorrect.body);
    verify(&incorrect);
    let approved = app.verify(id, &code).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    verify(&approved);
    let consumed = app.verify(id, &code).await;
    assert_eq!(consumed.status, 409);
    verify(&consumed);
    let unknown = app.verify(&"a".repeat(32), "123456").await;
    assert_eq!(unknown.status, 404);
    verify(&unknown);
    let malformed = app.verify("not-an-id", "123456").await;
    assert_eq!(malformed.status, 400);
    verify(&malformed);
    let named = app
        .post(
            "/v1/otp/verify",
            &json!({"user_id": "openapi-user", "code": "123456"}),
        )
        .await;
    assert_eq!(named.status, 400, "{}", named.body);
    assert_eq!(named.body["field"], "user_id");
    verify(&named);

    // A code locked by wrong attempts, and one expired.
    let (id, code) = app.issue("+447911123457").await;
    let mut locked = app.verify(&id, &wrong_code(&code)).await;
    for _ in 0..10 {
        verify(&locked);
        if locked.status == 423 {
            break;
        }
        locked = app.verify(&id, &wrong_code(&code)).await;
    }
    assert_eq!(locked.status, 423, "{}", locked.body);
    let (id, code) = app.issue("+447911123458").await;
    app.advance(3600);
    let expired = app.verify(&id, &code).await;
    assert_eq!(expired.status, 410, "{}", expired.body);
    verify(&expired);

    // The backend's send, with what only it may ask, and its verify; the server send's refusals.
    let sent = app
        .server_send(&json!({
            "channel": "sms", "to": "+447911123459", "purpose": "login",
            "reference": "order-1", "length": 8, "ttl_seconds": 120,
        }))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    assert_eq!(sent.body["reference"], "order-1");
    server_send(&sent);
    let code = app.last_code().await;
    assert_eq!(code.len(), 8, "the backend's length");
    let cooling = app
        .server_send(&json!({"channel": "sms", "to": "+447911123459", "purpose": "login"}))
        .await;
    assert_eq!(cooling.status, 429, "{}", cooling.body);
    server_send(&cooling);
    let invalid = app
        .server_send(&json!({"channel": "sms", "to": "+447911123451", "ttl_seconds": 5}))
        .await;
    assert_eq!(invalid.status, 400, "{}", invalid.body);
    assert_eq!(invalid.body["field"], "ttl_seconds");
    server_send(&invalid);
    let unsupported = app
        .raw(
            Method::POST,
            "/v1/server/otp/send",
            Some(("text/plain", b"{}".to_vec())),
            Some(&app.server_key),
        )
        .await;
    assert_eq!(unsupported.status, 415);
    server_send(&unsupported);
    let id = sent.body["id"].as_str().unwrap();
    let incorrect = app
        .server_post(
            "/v1/server/otp/verify",
            &json!({"id": id, "code": wrong_code(&code)}),
        )
        .await;
    assert_eq!(incorrect.status, 422, "{}", incorrect.body);
    server_verify(&incorrect);
    let approved = app
        .server_post("/v1/server/otp/verify", &json!({"id": id, "code": code}))
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["reference"], "order-1");
    server_verify(&approved);

    let outbox = app.get("/_local/outbox").await;
    assert_conforms(&doc, "get", "/_local/outbox", &outbox);
    let keys = app.get("/.well-known/jwks.json").await;
    assert_eq!(keys.status, 200);
    assert_conforms(&doc, "get", "/.well-known/jwks.json", &keys);

    // Enrol (the backend), read, ask for a challenge and verify against it in public (incorrect,
    // approved, replayed), refuse a second enrolment, a recovery code, lock by `user_id` on the
    // server verify, an expired challenge, one never issued, delete, and read what is gone.
    let enrollment = "/v1/server/totp/enroll/openapi-user";
    let status =
        |reply: &Reply| assert_conforms(&doc, "get", "/v1/server/totp/enroll/{user_id}", reply);
    let enroll = |reply: &Reply| assert_conforms(&doc, "post", "/v1/server/totp/enroll", reply);
    let challenge =
        |reply: &Reply| assert_conforms(&doc, "post", "/v1/server/totp/challenge", reply);
    let user = json!({"user_id": "openapi-user", "issuer": "Acme", "account": "ana@example.com"});
    let enrolled = app.server_post("/v1/server/totp/enroll", &user).await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    enroll(&enrolled);
    let pending = app.server_request(Method::GET, enrollment, None).await;
    assert_eq!(pending.status, 200);
    status(&pending);
    let issued = app
        .server_post(
            "/v1/server/totp/challenge",
            &json!({"user_id": "openapi-user"}),
        )
        .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    challenge(&issued);
    let challenge_id = issued.body["challenge_id"].as_str().unwrap().to_owned();
    let against = |code: &str| json!({"challenge_id": challenge_id, "code": code});
    let totp = App::scan(&enrolled);
    let right = totp.code(&app, 0);
    let incorrect = app
        .post("/v1/otp/verify", &against(&wrong_code(&right)))
        .await;
    assert_eq!(incorrect.status, 422, "{}", incorrect.body);
    verify(&incorrect);
    let approved = app.post("/v1/otp/verify", &against(&right)).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["user_id"], "openapi-user");
    verify(&approved);
    let replayed = app.post("/v1/otp/verify", &against(&right)).await;
    assert_eq!(replayed.status, 409, "{}", replayed.body);
    verify(&replayed);
    let active = app.server_request(Method::GET, enrollment, None).await;
    assert_eq!(active.body["status"], "active");
    status(&active);
    let again = app.server_post("/v1/server/totp/enroll", &user).await;
    assert_eq!(again.status, 409, "{}", again.body);
    enroll(&again);
    let recovery_code = enrolled.body["recovery_codes"][0].as_str().unwrap();
    let recovered = app
        .post(
            "/v1/otp/verify",
            &json!({"challenge_id": challenge_id, "recovery_code": recovery_code}),
        )
        .await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    verify(&recovered);
    let recovery_code = enrolled.body["recovery_codes"][1].as_str().unwrap();
    let recovered = app
        .server_post(
            "/v1/server/otp/verify",
            &json!({"user_id": "openapi-user", "recovery_code": recovery_code}),
        )
        .await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    server_verify(&recovered);
    let by_user = json!({"user_id": "openapi-user", "code": "000000"});
    let mut locked = app.server_post("/v1/server/otp/verify", &by_user).await;
    for _ in 0..10 {
        server_verify(&locked);
        if locked.status == 429 {
            break;
        }
        locked = app.server_post("/v1/server/otp/verify", &by_user).await;
    }
    assert_eq!(locked.status, 429, "{}", locked.body);
    // The backend's principal is locked out; the browser's network is not, until its own ten.
    let mut locked = app.post("/v1/otp/verify", &against("000000")).await;
    for _ in 0..10 {
        verify(&locked);
        if locked.status == 429 {
            break;
        }
        locked = app.post("/v1/otp/verify", &against("000000")).await;
    }
    assert_eq!(locked.status, 429, "{}", locked.body);
    let while_locked = app.server_request(Method::GET, enrollment, None).await;
    assert_eq!(
        while_locked.body["locked_networks"], 2,
        "{}",
        while_locked.body
    );
    status(&while_locked);
    app.advance(5 * 60 + 1);
    let expired = app.post("/v1/otp/verify", &against(&right)).await;
    assert_eq!(expired.status, 410, "{}", expired.body);
    assert_eq!(
        expired.body["type"],
        "urn:problem-type:otp-lambda:challenge-expired"
    );
    verify(&expired);
    let forged = app
        .post(
            "/v1/otp/verify",
            &json!({"challenge_id": "not-a-challenge", "code": "123456"}),
        )
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert_eq!(forged.body["field"], "challenge_id");
    verify(&forged);
    let removed = app.server_request(Method::DELETE, enrollment, None).await;
    assert_eq!(removed.status, 204);
    assert_conforms(&doc, "delete", "/v1/server/totp/enroll/{user_id}", &removed);
    let gone = app.server_request(Method::GET, enrollment, None).await;
    assert_eq!(gone.status, 404);
    status(&gone);
    let not_enrolled = app
        .server_post(
            "/v1/server/otp/verify",
            &json!({"user_id": "openapi-user", "code": right}),
        )
        .await;
    assert_eq!(not_enrolled.status, 404);
    server_verify(&not_enrolled);
    let no_challenge = app
        .server_post(
            "/v1/server/totp/challenge",
            &json!({"user_id": "openapi-user"}),
        )
        .await;
    assert_eq!(no_challenge.status, 404, "{}", no_challenge.body);
    challenge(&no_challenge);
    let bad_user = app
        .server_request(Method::GET, "/v1/server/totp/enroll/not%20valid", None)
        .await;
    assert_eq!(bad_user.status, 400);
    status(&bad_user);

    // otp-local's demo backend answers as the server routes it stands for, with no key.
    let demo = |method: &str, path: &str, reply: &Reply| assert_conforms(&doc, method, path, reply);
    let enrolled = app
        .post(
            "/_local/demo/totp/enroll",
            &json!({"user_id": "demo-user", "issuer": "Acme", "account": "ana@example.com"}),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    demo("post", "/_local/demo/totp/enroll", &enrolled);
    let pending = app.get("/_local/demo/totp/enroll/demo-user").await;
    assert_eq!(pending.status, 200, "{}", pending.body);
    demo("get", "/_local/demo/totp/enroll/{user_id}", &pending);
    let issued = app
        .post(
            "/_local/demo/totp/challenge",
            &json!({"user_id": "demo-user"}),
        )
        .await;
    assert_eq!(issued.status, 201, "{}", issued.body);
    demo("post", "/_local/demo/totp/challenge", &issued);
    let nobody = app
        .post("/_local/demo/totp/challenge", &json!({"user_id": "nobody"}))
        .await;
    assert_eq!(nobody.status, 404, "{}", nobody.body);
    demo("post", "/_local/demo/totp/challenge", &nobody);
}

#[tokio::test]
async fn server_routes_answer_401_without_the_server_key_and_public_routes_ignore_it() {
    let app = spawn_app().await;
    let doc = document();
    let wrong = "x".repeat(app.server_key.len());
    for (path, method) in operations(&doc) {
        let body = (method == "post").then(|| json!({}));
        let method_ = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let path_ = concrete(&path);
        if !is_server(&path) {
            // A public route neither needs the key nor minds it.
            let reply = app
                .request_as(method_, &path_, body.as_ref(), Some(&app.server_key))
                .await;
            assert_ne!(reply.status, 401, "{method} {path}: {}", reply.body);
            continue;
        }
        for key in [None, Some(wrong.as_str()), Some("")] {
            let what = format!("{method} {path} with key {key:?}");
            let reply = app
                .request_as(method_.clone(), &path_, body.as_ref(), key)
                .await;
            assert_eq!(reply.status, 401, "{what}: {}", reply.body);
            assert_eq!(
                reply.body["type"], "urn:problem-type:otp-lambda:unauthorized",
                "{what}"
            );
            assert!(
                reply.headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer"),
                "{what}: WWW-Authenticate"
            );
            assert_conforms(&doc, &method, &path, &reply);
        }
        // Not another scheme with the key, nor the key in another case of the scheme's name.
        for authorization in [
            format!("Basic {}", app.server_key),
            format!("bearer{}", app.server_key),
            format!("Bearer {}x", app.server_key),
        ] {
            let mut request = app
                .client
                .request(method_.clone(), format!("{}{path_}", app.address))
                .header("authorization", authorization);
            if let Some(body) = &body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            let reply = crate::helpers::reply_of(request.send().await.expect("request")).await;
            assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
        }
    }
}

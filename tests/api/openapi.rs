//! The OpenAPI document (`openapi.json`) and the handlers agree: otp-local serves the document,
//! every route it serves is documented and every documented operation is served, and real replies
//! have a documented status, content type, headers and body. `tests/schemathesis.sh` goes further
//! with generated requests.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, spawn_app, wrong_code};
use crate::totp::App;

/// Every route `route()` in `infra/local/src/lib.rs` matches, with each method it answers other than
/// with `405`. Keep this in step with `route()`: a route added there and not here fails
/// `every_route_is_documented_and_every_documented_operation_is_served` only if it is documented.
const ROUTES: &[(&str, &str)] = &[
    ("/v1/otp/send", "post"),
    ("/v1/otp/verify", "post"),
    ("/.well-known/jwks.json", "get"),
    ("/v1/totp/enroll", "post"),
    ("/v1/totp/enroll/{user_id}", "get"),
    ("/v1/totp/enroll/{user_id}", "delete"),
    ("/_local/outbox", "get"),
    ("/openapi.json", "get"),
    ("/", "get"),
    ("/demo.js", "get"),
    ("/demo.css", "get"),
];

/// The routes only otp-local has: the document marks them `x-local-only: true`.
const LOCAL_ONLY: &[&str] = &[
    "/_local/outbox",
    "/openapi.json",
    "/",
    "/demo.js",
    "/demo.css",
];

/// The methods an OpenAPI path item may describe.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const NOT_FOUND: &str = "urn:problem-type:otp-lambda:not-found";

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
    async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.address));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
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
    let routed: BTreeSet<_> = ROUTES
        .iter()
        .map(|(path, method)| (path.to_string(), method.to_string()))
        .collect();
    assert_eq!(
        documented.difference(&routed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not in route()"
    );
    assert_eq!(
        routed.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in route() but not documented"
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
        assert_conforms(&doc, method, path, &reply);
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

    // The probe tells a route from no route: these paths are none.
    for path in [
        "/v1",
        "/v1/otp",
        "/v1/otp/send/",
        "/v1/totp/enroll/",
        "/v1/totp/enroll/a/b",
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

    // The local-only routes, and only they, say so.
    for (path, method) in &documented {
        let local = doc["paths"][path][method]["x-local-only"] == true;
        assert_eq!(
            local,
            LOCAL_ONLY.contains(&path.as_str()),
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

    // Send: accepted, refused while cooling down, invalid, wrong media type, too large.
    let request = json!({"channel": "sms", "to": "+447911123456", "purpose": "login", "reference": "order-1"});
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
    let unsupported = app
        .post_raw("/v1/otp/send", Some("text/plain"), b"{}".to_vec())
        .await;
    assert_eq!(unsupported.status, 415);
    send(&unsupported);
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

    // Verify a sent code: incorrect, approved, consumed; an unknown id; a malformed one.
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

    let outbox = app.get("/_local/outbox").await;
    assert_conforms(&doc, "get", "/_local/outbox", &outbox);
    let keys = app.get("/.well-known/jwks.json").await;
    assert_eq!(keys.status, 200);
    assert_conforms(&doc, "get", "/.well-known/jwks.json", &keys);

    // Enrol, read, verify (incorrect, approved, replayed, locked), refuse a second enrolment,
    // a recovery code, delete, and read what is gone.
    let enrollment = "/v1/totp/enroll/openapi-user";
    let status = |reply: &Reply| assert_conforms(&doc, "get", "/v1/totp/enroll/{user_id}", reply);
    let enroll = |reply: &Reply| assert_conforms(&doc, "post", "/v1/totp/enroll", reply);
    let enrolled = app
        .enroll(json!({"user_id": "openapi-user", "issuer": "Acme", "account": "ana@example.com"}))
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    enroll(&enrolled);
    let pending = app.get(enrollment).await;
    assert_eq!(pending.status, 200);
    status(&pending);
    let totp = App::scan(&enrolled);
    let right = totp.code(&app, 0);
    let incorrect = app.verify_totp("openapi-user", &wrong_code(&right)).await;
    assert_eq!(incorrect.status, 422, "{}", incorrect.body);
    verify(&incorrect);
    let approved = app.verify_totp("openapi-user", &right).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    verify(&approved);
    let replayed = app.verify_totp("openapi-user", &right).await;
    assert_eq!(replayed.status, 409, "{}", replayed.body);
    verify(&replayed);
    let active = app.get(enrollment).await;
    assert_eq!(active.body["status"], "active");
    status(&active);
    let again = app
        .enroll(json!({"user_id": "openapi-user", "issuer": "Acme", "account": "ana@example.com"}))
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    enroll(&again);
    let recovery_code = enrolled.body["recovery_codes"][0].as_str().unwrap();
    let recovered = app
        .post(
            "/v1/otp/verify",
            &json!({"user_id": "openapi-user", "recovery_code": recovery_code}),
        )
        .await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    verify(&recovered);
    let mut locked = app.verify_totp("openapi-user", "000000").await;
    for _ in 0..10 {
        verify(&locked);
        if locked.status == 429 {
            break;
        }
        locked = app.verify_totp("openapi-user", "000000").await;
    }
    assert_eq!(locked.status, 429, "{}", locked.body);
    let while_locked = app.get(enrollment).await;
    assert!(while_locked.body["locked_until"].is_string());
    status(&while_locked);
    let removed = app.request(Method::DELETE, enrollment, None).await;
    assert_eq!(removed.status, 204);
    assert_conforms(&doc, "delete", "/v1/totp/enroll/{user_id}", &removed);
    let gone = app.get(enrollment).await;
    assert_eq!(gone.status, 404);
    status(&gone);
    let not_enrolled = app.verify_totp("openapi-user", &right).await;
    assert_eq!(not_enrolled.status, 404);
    verify(&not_enrolled);
    let bad_user = app.get("/v1/totp/enroll/not%20valid").await;
    assert_eq!(bad_user.status, 400);
    status(&bad_user);
}

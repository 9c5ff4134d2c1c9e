//! Browsers: CORS for exactly the configured origins (otp-local `--allowed-origin`, as the stack's
//! `AllowedOrigins`), and the caller's address taken from the platform, never from a header.

use std::sync::Arc;

use otp_local::Cors;
use otp_shared::adapters::{ManualClock, OsRandomness};
use otp_shared::http::{PeerAddress, client_address};
use otp_shared::{ServiceSecret, Settings};

const ALLOWED: &str = "https://app.example.com";

async fn spawn_with_origins(origins: &[&str]) -> String {
    let otp = otp_local::local_otp(
        Settings::default(),
        &ServiceSecret::ephemeral(&OsRandomness),
        Arc::new(ManualClock::default()),
        Arc::new(OsRandomness),
    );
    let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
    let cors = Cors::new(&origins).unwrap();
    let addr = otp_local::spawn_with_cors(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(otp),
        cors,
        otp_local::ServerKey::generate(&OsRandomness),
    )
    .await
    .unwrap();
    format!("http://{addr}")
}

fn preflight(client: &reqwest::Client, url: &str, origin: &str) -> reqwest::RequestBuilder {
    client
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
}

#[tokio::test]
async fn a_preflight_is_answered_for_exactly_the_allowed_origins() {
    let base = spawn_with_origins(&[ALLOWED, "http://127.0.0.1:5173"]).await;
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/otp/send");

    let allowed = preflight(&client, &url, ALLOWED).send().await.unwrap();
    assert_eq!(allowed.status(), 204);
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], ALLOWED);
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(
        allowed_headers.contains("content-type"),
        "{allowed_headers}"
    );
    assert_eq!(headers["access-control-max-age"], "600");

    for other in [
        "https://evil.example.com",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "null",
    ] {
        let refused = preflight(&client, &url, other).send().await.unwrap();
        assert_eq!(refused.status(), 403, "{other}");
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none(),
            "{other}"
        );
    }
}

#[tokio::test]
async fn replies_name_an_allowed_origin_and_no_other_and_never_a_wildcard() {
    let base = spawn_with_origins(&[ALLOWED]).await;
    let client = reqwest::Client::new();
    let send = |origin: &'static str| {
        client
            .post(format!("{base}/v1/otp/send"))
            .header("origin", origin)
            .header("content-type", "application/json")
            .body(r#"{"channel":"sms","to":"+447911123456"}"#)
            .send()
    };

    let allowed = send(ALLOWED).await.unwrap();
    assert_eq!(allowed.status(), 202);
    assert_eq!(allowed.headers()["access-control-allow-origin"], ALLOWED);
    assert_eq!(
        allowed.headers()["access-control-expose-headers"],
        "retry-after"
    );
    assert!(
        allowed
            .headers()
            .get_all("vary")
            .iter()
            .any(|v| v == "origin")
    );
    // A refusal (the resend cooldown) is readable by the page too.
    let cooling = send(ALLOWED).await.unwrap();
    assert_eq!(cooling.status(), 429);
    assert_eq!(cooling.headers()["access-control-allow-origin"], ALLOWED);

    let other = send("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_allowed_origins_no_browser_origin_is_allowed() {
    let base = spawn_with_origins(&[]).await;
    let client = reqwest::Client::new();
    let refused = preflight(&client, &format!("{base}/v1/otp/verify"), ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[test]
fn the_client_address_is_the_platforms_never_a_header() {
    let path = format!("{}/fixtures/apigw-v2/send.json", env!("CARGO_MANIFEST_DIR"));
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["headers"]["x-forwarded-for"] = "203.0.113.66".into();
    event["headers"]["x-real-ip"] = "203.0.113.67".into();
    let source_ip = event["requestContext"]["http"]["sourceIp"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(
        client_address(&request).unwrap().to_string(),
        source_ip,
        "API Gateway's requestContext.http.sourceIp"
    );

    // otp-local puts the peer address in the request, as API Gateway puts the source address.
    let mut local = lambda_http::http::Request::post("/v1/otp/send")
        .header("x-forwarded-for", "203.0.113.66")
        .body(lambda_http::Body::Empty)
        .unwrap();
    assert_eq!(client_address(&local), None, "a header alone says nothing");
    local
        .extensions_mut()
        .insert(PeerAddress("127.0.0.1".parse().unwrap()));
    assert_eq!(client_address(&local).unwrap().to_string(), "127.0.0.1");
}

use std::sync::{Arc, Mutex};
use std::time::Duration;

use otp_shared::adapters::{ManualClock, MemoryStore, OsRandomness};
use otp_shared::hashing::Keys;
use otp_shared::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};
use otp_shared::{Otp, ServiceSecret, Settings};
use serde_json::{Value, json};

pub struct TestApp {
    pub address: String,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
}

/// A fresh otp-local on 127.0.0.1 with a free port, its own store, and a clock the test moves.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let clock = Arc::new(ManualClock::default());
    let secret = ServiceSecret::ephemeral(&OsRandomness);
    let otp = otp_local::local_otp(settings, &secret, clock.clone(), Arc::new(OsRandomness));
    let addr = otp_local::spawn("127.0.0.1:0".parse().unwrap(), Arc::new(otp))
        .await
        .expect("bind a free port");
    TestApp {
        address: format!("http://{addr}"),
        clock,
        client: reqwest::Client::new(),
    }
}

/// A reply: status, headers and JSON body.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn retry_after(&self) -> u64 {
        self.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub fn content_type(&self) -> &str {
        self.headers["content-type"].to_str().unwrap()
    }
}

impl TestApp {
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        reply(request.send().await.expect("request")).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_raw(
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn send(&self, body: &Value) -> Reply {
        self.post("/v1/otp/send", body).await
    }

    /// A default SMS send to `to` and the code it delivered: `(id, code)`.
    pub async fn issue(&self, to: &str) -> (String, String) {
        let id = self.send_sms(to).await.body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, self.last_code().await)
    }

    /// A default SMS send to `to`; panics unless accepted.
    pub async fn send_sms(&self, to: &str) -> Reply {
        let reply = self.send(&json!({"channel": "sms", "to": to})).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply
    }

    pub async fn verify(&self, id: &str, code: &str) -> Reply {
        self.post("/v1/otp/verify", &json!({"id": id, "code": code}))
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request");
        reply(response).await
    }

    pub async fn outbox(&self) -> Vec<Value> {
        let reply = self.get("/_local/outbox").await;
        assert_eq!(reply.status, 200);
        reply.body.as_array().expect("outbox is an array").clone()
    }

    /// The code in the newest message of the outbox (built-in English texts start with it).
    pub async fn last_code(&self) -> String {
        let outbox = self.outbox().await;
        let body = outbox.last().expect("a message was sent")["body"]
            .as_str()
            .unwrap()
            .to_owned();
        body.split_whitespace().next().unwrap().to_owned()
    }

    pub fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {bytes:?}"))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// A code that is certainly not `code`, of the same shape.
pub fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

/// A notifier that keeps what it delivers, for tests that call the handlers directly.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<OutgoingMessage>>>);

impl Recorder {
    pub fn last(&self) -> OutgoingMessage {
        self.0
            .lock()
            .unwrap()
            .last()
            .expect("a message was delivered")
            .clone()
    }
}

impl Notifier for Recorder {
    async fn deliver(&self, message: &OutgoingMessage) -> Result<Delivered, DeliveryError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(Delivered::default())
    }
}

/// The service as a Lambda builds it, with an in-memory store and the given notifier.
pub fn otp_with<N>(notifier: N, secret: &ServiceSecret) -> Otp<MemoryStore, N> {
    Otp::new(
        MemoryStore::new(),
        notifier,
        Arc::new(ManualClock::default()),
        Arc::new(OsRandomness),
        Keys::derive(secret),
        Settings::default(),
    )
}

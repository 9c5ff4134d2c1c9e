use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otp_local::{LocalDelivery, LocalStore, Outbox};
use otp_shared::adapters::RecordedMetrics;
use otp_shared::adapters::aws::{
    self, AwsDelivery, DynamoStore, EmailSettings, SesEmail, SmsProvider, SmsSettings, SmsVoice,
    SmsVoiceSettings, SnsSms, create_table_if_missing,
};
use otp_shared::adapters::{ManualClock, MemoryStore, OsRandomness};
use otp_shared::crypto::Keys;
use otp_shared::domain::EmailAddress;
use otp_shared::ports::{Delivered, DeliveryError, Notifier, OutgoingMessage};
use otp_shared::{Otp, ServiceSecret, Settings};
use serde_json::{Value, json};

pub struct TestApp {
    pub address: String,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    /// The emulator's address when the app runs on the AWS adapters; codes are read from what it
    /// received.
    pub emulator: Option<String>,
    /// The app's own DynamoDB table, on the AWS adapters.
    pub table: Option<String>,
    /// What the service reported to its metrics.
    pub metrics: Arc<RecordedMetrics>,
    /// The key the app's backend presents on `/v1/server/` routes.
    pub server_key: String,
}

/// Which adapters the scenarios run on: `OTP_TEST_BACKEND=aws` runs every scenario on DynamoDB, SNS
/// and SES (the emulator at `AWS_ENDPOINT_URL`); otherwise on the in-memory store and the outbox.
pub fn on_aws() -> bool {
    std::env::var("OTP_TEST_BACKEND").is_ok_and(|b| b == "aws")
}

/// A fresh otp-local on 127.0.0.1 with a free port, its own store, and a clock the test moves.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    spawn_app_wired(settings, |otp| otp).await
}

/// [`spawn_app_with`], the service finished by `wire` (a bot check, say) before it serves.
pub async fn spawn_app_wired(
    settings: Settings,
    wire: impl FnOnce(otp_local::LocalOtp) -> otp_local::LocalOtp,
) -> TestApp {
    crate::logs::captured();
    if on_aws() {
        let emulator = Emulator::get().await;
        let store = emulator.store(crate::calls::dynamodb(&emulator.sdk)).await;
        emulator
            .spawn_wired(store, emulator.delivery(), settings, wire)
            .await
    } else {
        let clock = Arc::new(ManualClock::default());
        let secret = ServiceSecret::ephemeral(&OsRandomness);
        let otp = otp_local::local_otp(settings, &secret, clock.clone(), Arc::new(OsRandomness));
        serve(wire(otp), clock, None, None).await
    }
}

async fn serve(
    otp: otp_local::LocalOtp,
    clock: Arc<ManualClock>,
    emulator: Option<String>,
    table: Option<String>,
) -> TestApp {
    let metrics = Arc::new(RecordedMetrics::new());
    let otp = otp.with_metrics(metrics.clone());
    let server_key = otp_local::ServerKey::generate(&OsRandomness);
    crate::logs::sensitive(server_key.expose());
    let addr = otp_local::spawn(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(otp),
        server_key.clone(),
    )
    .await
    .expect("bind a free port");
    TestApp {
        address: format!("http://{addr}"),
        clock,
        client: reqwest::Client::new(),
        emulator,
        table,
        metrics,
        server_key: server_key.expose().to_owned(),
    }
}

/// The AWS emulator (moto server) the README's test command starts, as the SDK sees it.
pub struct Emulator {
    pub endpoint: String,
    pub sdk: aws_config::SdkConfig,
    /// The ARN of the End User Messaging number calls come from (one per test process).
    pub voice_identity: String,
}

/// The configuration set calls are made in, as the template's stack would name it.
pub const EUM_CONFIGURATION_SET: &str = "otp-test-events";

pub const EMAIL_FROM: &str = "no-reply@example.com";

impl Emulator {
    /// The emulator at `AWS_ENDPOINT_URL`, which must be on 127.0.0.1: tests never reach real AWS.
    pub async fn get() -> Self {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        assert!(
            endpoint.starts_with("http://127.0.0.1:"),
            "these tests need the AWS emulator: run them with `bash tests/run.sh`, which starts \
             moto_server and sets AWS_ENDPOINT_URL (got {endpoint:?})"
        );
        let sdk = aws::sdk_config().await;
        let voice_identity = Self::voice_identity(&sdk).await;
        let emulator = Self {
            endpoint,
            sdk,
            voice_identity,
        };
        // SES sends only from a verified identity; the emulator verifies on creation. It may
        // exist already (the emulator outlives each test): that is fine.
        let _ = aws_sdk_sesv2::Client::new(&emulator.sdk)
            .create_email_identity()
            .email_identity("example.com")
            .send()
            .await;
        emulator
    }

    /// A voice- and SMS-capable number of the emulator's End User Messaging, and a configuration
    /// set, made once per test process.
    async fn voice_identity(sdk: &aws_config::SdkConfig) -> String {
        use aws_sdk_pinpointsmsvoicev2::types::{
            MessageType, NumberCapability, RequestableNumberType,
        };
        static IDENTITY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
        IDENTITY
            .get_or_init(|| async {
                let client = aws_sdk_pinpointsmsvoicev2::Client::new(sdk);
                let _ = client
                    .create_configuration_set()
                    .configuration_set_name(EUM_CONFIGURATION_SET)
                    .send()
                    .await;
                client
                    .request_phone_number()
                    .iso_country_code("US")
                    .message_type(MessageType::Transactional)
                    .number_capabilities(NumberCapability::Voice)
                    .number_capabilities(NumberCapability::Sms)
                    .number_type(RequestableNumberType::TollFree)
                    .send()
                    .await
                    .expect("a number from the emulator")
                    .phone_number_arn
                    .expect("an ARN")
            })
            .await
            .clone()
    }

    /// What the emulator's End User Messaging fake recorded of one kind: `voice_messages`,
    /// `text_messages` or `message_feedback`.
    pub async fn eum_records(&self, kind: &str) -> Vec<Value> {
        eum_records(&self.endpoint, kind).await
    }

    /// End User Messaging as the send function builds it, from the emulator's number.
    pub fn sms_voice(&self) -> SmsVoice {
        self.sms_voice_by(crate::calls::sms_voice(&self.sdk))
    }

    /// [`Self::sms_voice`] through `client` (which may carry test interceptors).
    pub fn sms_voice_by(&self, client: aws_sdk_pinpointsmsvoicev2::Client) -> SmsVoice {
        SmsVoice::new(
            client,
            SmsVoiceSettings {
                origination_identity: self.voice_identity.clone(),
                configuration_set: Some(EUM_CONFIGURATION_SET.to_owned()),
                max_price_per_minute: Some("0.10".to_owned()),
                max_price: None,
                protect_configuration_id: None,
            },
        )
    }

    /// A new table, created as otp-local `--create-table` does.
    pub async fn fresh_table(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let table = format!(
            "otp-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        create_table_if_missing(&aws_sdk_dynamodb::Client::new(&self.sdk), &table)
            .await
            .expect("create the table");
        table
    }

    /// A store on a fresh table, through `client` (which may carry test interceptors).
    pub async fn store(&self, client: aws_sdk_dynamodb::Client) -> DynamoStore {
        DynamoStore::new(client, self.fresh_table().await)
    }

    /// otp-local on this store and delivery, with a clock the test moves.
    pub async fn spawn(
        &self,
        store: DynamoStore,
        delivery: AwsDelivery,
        settings: Settings,
    ) -> TestApp {
        self.spawn_wired(store, delivery, settings, |otp| otp).await
    }

    /// [`Self::spawn`], the service finished by `wire` before it serves.
    pub async fn spawn_wired(
        &self,
        store: DynamoStore,
        delivery: AwsDelivery,
        settings: Settings,
        wire: impl FnOnce(otp_local::LocalOtp) -> otp_local::LocalOtp,
    ) -> TestApp {
        crate::logs::captured();
        let clock = Arc::new(ManualClock::default());
        let secret = ServiceSecret::ephemeral(&OsRandomness);
        let table = store.table().to_owned();
        let otp = otp_local::local_otp_on(
            LocalStore::Dynamo(store),
            LocalDelivery::Aws(Box::new(delivery), Outbox::new(clock.clone())),
            settings,
            &secret,
            clock.clone(),
            Arc::new(OsRandomness),
        );
        serve(wire(otp), clock, Some(self.endpoint.clone()), Some(table)).await
    }

    /// SNS and SES delivery as the send Lambda builds it.
    pub fn delivery(&self) -> AwsDelivery {
        self.delivery_by(crate::calls::sns(&self.sdk), crate::calls::ses(&self.sdk))
    }

    /// The send Lambda's delivery, through the given SNS and SES clients.
    pub fn delivery_by(&self, sns: aws_sdk_sns::Client, ses: aws_sdk_sesv2::Client) -> AwsDelivery {
        AwsDelivery {
            sms: Some(SmsProvider::Sns(SnsSms::new(sns, SmsSettings::default()))),
            email: Some(SesEmail::new(
                ses,
                EmailSettings {
                    from: EmailAddress::parse(EMAIL_FROM).unwrap(),
                    configuration_set: None,
                },
            )),
            voice: Some(self.sms_voice()),
            // otp-local is both functions: its approvals confirm what its calls carried.
            feedback: Some(crate::calls::sms_voice(&self.sdk)),
        }
    }

    /// What the emulator delivered: `(message id, recipient, text)`; a call's text is its SSML. It
    /// keeps only the HTML part of an email with both parts, so an email's text is recovered from
    /// its HTML.
    pub async fn delivered(endpoint: &str) -> Vec<(String, String, String)> {
        // The emulator builds this dump while other tests write, and now and then fails to: ask again.
        let mut data = Value::Null;
        for _ in 0..10 {
            let response = reqwest::get(format!("{endpoint}/moto-api/data.json?services=sns,ses"))
                .await
                .expect("emulator data");
            if response.status().is_success() {
                data = response.json().await.expect("emulator data is JSON");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(data.is_object(), "the emulator gave no data");
        let mut messages = Vec::new();
        for sms in data["sns"]["SMS"].as_array().into_iter().flatten() {
            messages.push((
                sms["message_id"].as_str().unwrap().to_owned(),
                sms["phone_number"].as_str().unwrap().to_owned(),
                sms["message"].as_str().unwrap().to_owned(),
            ));
        }
        let eum = &data["pinpoint-sms-voice-v2"];
        for kind in ["voice_messages", "text_messages"] {
            for message in eum[kind].as_array().into_iter().flatten() {
                messages.push((
                    message["message_id"].as_str().unwrap().to_owned(),
                    message["destination_phone_number"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    message["message_body"].as_str().unwrap().to_owned(),
                ));
            }
        }
        for email in data["ses"]["Message"].as_array().into_iter().flatten() {
            messages.push((
                email["id"].as_str().unwrap().to_owned(),
                email["destinations"]["ToAddresses"][0]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                text_of_html(email["body"].as_str().unwrap()),
            ));
        }
        messages
    }
}

/// The text of one of our HTML emails: paragraphs become blank-line separated, `<br>` a newline.
fn text_of_html(html: &str) -> String {
    let body = html
        .split_once("<body")
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(html, |(_, rest)| {
            rest.split("</body>").next().unwrap_or(rest)
        });
    let mut text = String::new();
    let mut in_tag = false;
    let mut tag = String::new();
    for c in body.replace("<br>\n", "<br>").chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                match tag.as_str() {
                    "br" => text.push('\n'),
                    "/p" => text.push_str("\n\n"),
                    _ => {}
                }
            }
            (true, c) => tag.push(c),
            (false, '\n') => {}
            (false, c) => text.push(c),
        }
    }
    text.trim_end()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        + "\n"
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
        if let Ok(json) = serde_json::from_slice::<Value>(&body) {
            crate::logs::sensitive_fields(&json);
        }
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        reply_of(request.send().await.expect("request")).await
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

    /// A request from the app's backend: `/v1/server/…` with the server key.
    pub async fn server_request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&self.server_key);
        if let Some(body) = body {
            crate::logs::sensitive_fields(body);
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        reply_of(request.send().await.expect("request")).await
    }

    pub async fn server_post(&self, path: &str, body: &Value) -> Reply {
        self.server_request(reqwest::Method::POST, path, Some(body))
            .await
    }

    /// `POST /v1/server/otp/send`: what only the app's backend may ask for.
    pub async fn server_send(&self, body: &Value) -> Reply {
        self.server_post("/v1/server/otp/send", body).await
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

    /// A public request from `local`, a loopback address other than 127.0.0.1: another client
    /// network, as the per-network limits see it.
    pub async fn post_from(&self, local: &str, path: &str, body: &Value) -> Reply {
        crate::logs::sensitive_fields(body);
        let client = reqwest::Client::builder()
            .local_address(local.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        let request = client
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/json")
            .body(body.to_string());
        reply_of(request.send().await.expect("request")).await
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
        reply_of(response).await
    }

    /// What was sent, oldest first. On the AWS adapters, each message's text is the one the emulator
    /// received under the message id SNS / SES returned.
    pub async fn outbox(&self) -> Vec<Value> {
        let reply = self.get("/_local/outbox").await;
        assert_eq!(reply.status, 200);
        let mut entries = reply.body.as_array().expect("outbox is an array").clone();
        if let Some(emulator) = &self.emulator {
            let delivered = Emulator::delivered(emulator).await;
            for entry in &mut entries {
                let id = entry["message_id"].as_str().expect("a message id");
                let (_, to, text) = delivered
                    .iter()
                    .find(|(message_id, _, _)| message_id == id)
                    .unwrap_or_else(|| panic!("the emulator has no message {id}"));
                assert_eq!(entry["to"].as_str(), Some(to.as_str()));
                entry["body"] = json!(text);
            }
        }
        entries
    }

    /// The code in the newest message of the outbox (built-in English texts start with it).
    pub async fn last_code(&self) -> String {
        let outbox = self.outbox().await;
        let body = outbox.last().expect("a message was sent")["body"]
            .as_str()
            .unwrap()
            .to_owned();
        let code = body.split_whitespace().next().unwrap().to_owned();
        crate::logs::sensitive(&code);
        code
    }

    pub fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }
}

pub async fn reply_of(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {bytes:?}"))
    };
    crate::logs::sensitive_fields(&body);
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
    crate::logs::captured();
    Otp::new(
        MemoryStore::new(),
        notifier,
        Arc::new(ManualClock::default()),
        Arc::new(OsRandomness),
        Keys::derive(secret),
        Settings::default(),
    )
}

/// The pairs of a form-encoded body (SNS's query protocol, a siteverify request).
pub fn form_pairs(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// [`Emulator::eum_records`] of the emulator at `endpoint`. (Its End User Messaging feed alone:
/// `services=none` leaves out the other services' records, which grow with the suite.)
pub async fn eum_records(endpoint: &str, kind: &str) -> Vec<Value> {
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json?services=none"))
        .await
        .expect("the emulator's records")
        .json()
        .await
        .expect("JSON");
    data["pinpoint-sms-voice-v2"][kind]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

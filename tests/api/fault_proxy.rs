//! A fault-injecting HTTP proxy on 127.0.0.1, between the real AWS SDK clients and the emulator.
//!
//! Each request is named by its operation (`UpdateItem`, `Publish`, `SendEmail`, …) and, if a rule
//! for that operation applies, answered with the fault instead of (or besides) being forwarded:
//! a throttling error or a 5xx in the service's own wire format, a slow reply, or a connection
//! closed before or after the emulator saw the request. The SDK sees exactly what it would see from
//! AWS, so its own timeouts and retries (ours, from `adapters::aws::configured`) are what is tested.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use otp_shared::adapters::aws;
use rand::Rng;
use tokio::net::TcpListener;

/// What the proxy does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// DynamoDB's `ProvisionedThroughputExceededException` (400), SNS's `Throttling` (400) or SES's
    /// `TooManyRequestsException` (429).
    Throttled,
    /// DynamoDB's `ThrottlingException` (400), the account-level throttle.
    ThrottlingException,
    /// A server error with this status (500, 503), in the service's error format.
    ServerError(u16),
    /// Forwarded at once, its reply held back this long (longer than the SDK's 2 s attempt timeout
    /// means the request took effect but the client gave up on it).
    SlowReply(Duration),
    /// The connection is closed before the request is forwarded: it never took effect.
    DropRequest,
    /// Forwarded, then the connection closed without the reply: it took effect, unknown to the client.
    DropReply,
}

/// How many matching requests a rule applies to.
#[derive(Debug, Clone, Copy)]
pub enum Times {
    /// The next `n`, then no more.
    Next(u32),
    /// Every one.
    Always,
    /// Each one with this probability (percent).
    Sometimes(u32),
}

struct Rule {
    operation: &'static str,
    fault: Fault,
    times: Times,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// The operation of every request seen, oldest first.
    seen: Vec<String>,
}

pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a free 127.0.0.1 port in front of `upstream` (the emulator). It stops when dropped.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let address: SocketAddr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let forward = Forward {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            state: state.clone(),
        };
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let forward = forward.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let forward = forward.clone();
                        async move { forward.handle(request).await }
                    });
                    // An error here is a dropped connection, ours on purpose or the client's.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            endpoint: format!("http://{address}"),
            state,
            server,
        }
    }

    /// From now on, `times` requests of `operation` meet `fault`. Rules apply in the order given.
    pub fn inject(&self, operation: &'static str, fault: Fault, times: Times) {
        self.state.lock().unwrap().rules.push(Rule {
            operation,
            fault,
            times,
        });
    }

    /// Removes every rule: the dependency has recovered.
    pub fn heal(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// How many requests were seen, of any operation.
    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().seen.len()
    }

    /// How many requests of `operation` were seen (attempts, retries included).
    pub fn attempts(&self, operation: &str) -> usize {
        let state = self.state.lock().unwrap();
        state.seen.iter().filter(|seen| *seen == operation).count()
    }

    /// The SDK configuration the Lambdas use, pointed at this proxy.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws::configured(aws_config::defaults(aws_config::BehaviorVersion::latest()))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone)]
struct Forward {
    upstream: String,
    client: reqwest::Client,
    state: Arc<Mutex<State>>,
}

/// Why the proxy closed a connection instead of answering.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the fault proxy")]
struct Dropped;

impl Forward {
    async fn handle(
        &self,
        request: hyper::Request<Incoming>,
    ) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        let operation = operation_of(&parts, &body);
        let fault = self.fault_for(&operation);
        self.state.lock().unwrap().seen.push(operation);
        let protocol = Protocol::of(&parts);
        match fault {
            None => self.forward(parts, body).await,
            Some(Fault::DropRequest) => Err(Dropped),
            Some(Fault::DropReply) => {
                self.forward(parts, body).await?;
                Err(Dropped)
            }
            Some(Fault::SlowReply(delay)) => {
                let reply = self.forward(parts, body).await;
                tokio::time::sleep(delay).await;
                reply
            }
            Some(Fault::Throttled) => Ok(protocol.error(
                match protocol {
                    Protocol::Json => "ProvisionedThroughputExceededException",
                    Protocol::Query => "Throttling",
                    Protocol::RestJson => "TooManyRequestsException",
                },
                if protocol == Protocol::RestJson {
                    429
                } else {
                    400
                },
            )),
            Some(Fault::ThrottlingException) => Ok(protocol.error("ThrottlingException", 400)),
            Some(Fault::ServerError(status)) => Ok(protocol.error(
                if status == 503 {
                    "ServiceUnavailable"
                } else {
                    "InternalFailure"
                },
                status,
            )),
        }
    }

    /// The first rule for `operation` that still applies, used up by one.
    fn fault_for(&self, operation: &str) -> Option<Fault> {
        let mut state = self.state.lock().unwrap();
        for rule in state.rules.iter_mut() {
            if rule.operation != operation && rule.operation != "*" {
                continue;
            }
            match &mut rule.times {
                Times::Always => return Some(rule.fault),
                Times::Next(0) => continue,
                Times::Next(n) => {
                    *n -= 1;
                    return Some(rule.fault);
                }
                Times::Sometimes(percent) => {
                    if rand::rng().random_range(0..100) < *percent {
                        return Some(rule.fault);
                    }
                }
            }
        }
        None
    }

    async fn forward(
        &self,
        parts: http::request::Parts,
        body: Bytes,
    ) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut headers = parts.headers;
        headers.remove(http::header::HOST);
        let reply = self
            .client
            .request(parts.method, format!("{}{path}", self.upstream))
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|_| Dropped)?;
        let mut response = hyper::Response::builder().status(reply.status());
        for (name, value) in reply.headers() {
            if name != http::header::TRANSFER_ENCODING && name != http::header::CONNECTION {
                response = response.header(name, value);
            }
        }
        let body = reply.bytes().await.map_err(|_| Dropped)?;
        Ok(response.body(Full::new(body)).unwrap())
    }
}

/// The operation a request calls: DynamoDB names it in `X-Amz-Target`, SNS in the form's `Action`,
/// SES v2 by its REST path.
fn operation_of(parts: &http::request::Parts, body: &[u8]) -> String {
    if let Some(target) = parts.headers.get("x-amz-target") {
        let target = target.to_str().unwrap_or_default();
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    if parts.uri.path().starts_with("/v2/email/outbound-emails") {
        return "SendEmail".to_owned();
    }
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map_or_else(
            || format!("{} {}", parts.method, parts.uri.path()),
            str::to_owned,
        )
}

/// The AWS wire protocol of a request, which decides how an error reply is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// awsJson1.0 (DynamoDB, Secrets Manager).
    Json,
    /// awsQuery (SNS).
    Query,
    /// restJson1 (SES v2).
    RestJson,
}

impl Protocol {
    fn of(parts: &http::request::Parts) -> Self {
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if parts.headers.contains_key("x-amz-target") {
            Protocol::Json
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            Protocol::Query
        } else {
            Protocol::RestJson
        }
    }

    fn error(self, code: &str, status: u16) -> hyper::Response<Full<Bytes>> {
        let message = "injected by the fault proxy";
        let (content_type, body) = match self {
            Protocol::Json => (
                "application/x-amz-json-1.0",
                format!(
                    r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}"#
                ),
            ),
            Protocol::Query => (
                "text/xml",
                format!(
                    "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>",
                    if status >= 500 { "Receiver" } else { "Sender" }
                ),
            ),
            Protocol::RestJson => ("application/json", format!(r#"{{"message":"{message}"}}"#)),
        };
        hyper::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .header("x-amzn-ErrorType", code)
            .header("x-amzn-RequestId", "fault-proxy")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    }
}

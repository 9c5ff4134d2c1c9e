//! Which AWS calls each function makes, for `infra/check-template.py` to hold to that function's IAM
//! policy in template.yaml. With `OTP_TEST_AWS_CALLS=<file>` (tests/run.sh sets it), every request a
//! [`Recorded`] client sends while otp-local serves a route is appended to the file as one JSON
//! line, once per distinct call: the function serving the route (otp-local's [`Function`]), the
//! operation as `service:Operation`, and what IAM authorizes it on. For DynamoDB that is the table
//! and, per item touched, the kind of request inside a transaction and the key's prefix up to its
//! first `#` (`code#`, `dest#`, …: never the rest of the key); for SNS the topic or endpoint, or
//! none for a phone number; for SES the sender and configuration set; for End User Messaging the
//! origination identity, configuration set and protect configuration; for Secrets Manager the
//! secret. Requests outside any route (a test reading the table to inspect it) are the tests' own,
//! and not recorded.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use otp_local::Function;
use serde_json::{Value, json};

/// What a test's SDK interceptor looks at: each request's service, operation (from the SDK's own
/// operation metadata: `GetItem`, `Publish`, …) and body, before it is sent.
pub trait OnRequest: std::fmt::Debug + Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn request(&self, service: &str, operation: &str, body: &[u8]) -> Result<(), BoxError>;

    /// This as an interceptor for any SDK client's config builder.
    fn interceptor(self) -> Interceptor<Self>
    where
        Self: Sized,
    {
        Interceptor(self)
    }
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An [`OnRequest`] as an SDK interceptor.
#[derive(Debug, Clone)]
pub struct Interceptor<T>(T);

impl<T: OnRequest> Intercept for Interceptor<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg.load::<Metadata>().ok_or("no operation metadata")?;
        let body = context.request().body().bytes().unwrap_or_default();
        self.0.request(metadata.service(), metadata.name(), body)
    }
}

/// Records calls. Add it to every client a function would build.
#[derive(Debug, Clone, Copy)]
pub struct Recorded;

/// DynamoDB as a function builds it, its calls recorded.
pub fn dynamodb(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(Recorded.interceptor())
            .build(),
    )
}

/// SNS as the send function builds it, its calls recorded.
pub fn sns(sdk: &SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(sdk)
            .interceptor(Recorded.interceptor())
            .build(),
    )
}

/// SES as the send function builds it, its calls recorded.
pub fn ses(sdk: &SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(sdk)
            .interceptor(Recorded.interceptor())
            .build(),
    )
}

/// End User Messaging SMS and Voice v2 as the send and verify functions build it, its calls
/// recorded.
pub fn sms_voice(sdk: &SdkConfig) -> aws_sdk_pinpointsmsvoicev2::Client {
    aws_sdk_pinpointsmsvoicev2::Client::from_conf(
        aws_sdk_pinpointsmsvoicev2::config::Builder::from(sdk)
            .interceptor(Recorded.interceptor())
            .build(),
    )
}

/// Secrets Manager as every function builds it at cold start, its calls recorded.
pub fn secrets(sdk: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(sdk)
            .interceptor(Recorded.interceptor())
            .build(),
    )
}

/// The file calls are appended to, and the lines this process has written to it.
struct Log {
    file: File,
    written: HashSet<String>,
}

/// The log, when recording.
fn log() -> Option<&'static Mutex<Log>> {
    static LOG: OnceLock<Option<Mutex<Log>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let path = std::env::var_os("OTP_TEST_AWS_CALLS")?;
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("OTP_TEST_AWS_CALLS {path:?}: {e}"));
        Some(Mutex::new(Log {
            file,
            written: HashSet::new(),
        }))
    })
    .as_ref()
}

impl OnRequest for Recorded {
    fn name(&self) -> &'static str {
        "RecordCallsPerFunction"
    }

    fn request(&self, service: &str, operation: &str, body: &[u8]) -> Result<(), BoxError> {
        let (Some(log), Some(function)) = (log(), Function::current()) else {
            return Ok(());
        };
        let call = call(function, service, operation, body);
        let line = format!("{call}\n");
        let mut log = log.lock().unwrap();
        if log.written.insert(line.clone()) {
            log.file.write_all(line.as_bytes())?;
        }
        Ok(())
    }
}

/// One call as a JSON object (see the module comment).
fn call(function: Function, service: &str, operation: &str, body: &[u8]) -> Value {
    let (prefix, resource) = match service {
        "DynamoDB" => ("dynamodb", dynamodb_resource(operation, body)),
        "SNS" => ("sns", sns_resource(body)),
        "SESv2" => ("ses", ses_resource(body)),
        "Pinpoint SMS Voice V2" => {
            let body = json_body(body);
            (
                "sms-voice",
                json!({
                    "origination_identity": body.get("OriginationIdentity"),
                    "configuration_set": body.get("ConfigurationSetName"),
                    "protect_configuration": body.get("ProtectConfigurationId"),
                }),
            )
        }
        "Secrets Manager" => (
            "secretsmanager",
            json!({"secret": json_body(body)["SecretId"]}),
        ),
        other => (other, Value::Null),
    };
    json!({
        "function": function.logical_id(),
        "action": format!("{prefix}:{operation}"),
        "resource": resource,
    })
}

fn json_body(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

/// The table and the items touched: `{"table", "index", "items": [{"request", "key"}]}`, `request`
/// being the kind of a transaction's item (`Put`, `Update`, `Delete`, `ConditionCheck`, `Get`) or
/// of a batch's (`PutRequest`, `DeleteRequest`), and `key` the partition key's prefix.
fn dynamodb_resource(operation: &str, body: &[u8]) -> Value {
    let body = json_body(body);
    let mut tables = Vec::new();
    let mut items = Vec::new();
    let mut item = |request: Option<&str>, table: &Value, entry: &Value| {
        tables.push(table.clone());
        items.push(json!({"request": request, "key": key_prefix(entry)}));
    };
    match operation {
        "TransactWriteItems" | "TransactGetItems" => {
            for transact in body["TransactItems"].as_array().into_iter().flatten() {
                for (request, inner) in transact.as_object().into_iter().flatten() {
                    item(Some(request), &inner["TableName"], inner);
                }
            }
        }
        "BatchGetItem" | "BatchWriteItem" => {
            for (table, requests) in body["RequestItems"].as_object().into_iter().flatten() {
                let table = json!(table);
                if let Some(keys) = requests["Keys"].as_array() {
                    for key in keys {
                        item(None, &table, &json!({"Key": key}));
                    }
                }
                for write in requests.as_array().into_iter().flatten() {
                    for (request, inner) in write.as_object().into_iter().flatten() {
                        item(Some(request), &table, inner);
                    }
                }
            }
        }
        // Query, Scan and table operations name no item; a query's partition is in its
        // expression, which the check reads as unknown.
        "Query" | "Scan" => tables.push(body["TableName"].clone()),
        _ if body.get("Key").is_some() || body.get("Item").is_some() => {
            item(None, &body["TableName"], &body);
        }
        _ => tables.push(body["TableName"].clone()),
    }
    tables.dedup();
    json!({
        "tables": tables,
        "index": body.get("IndexName"),
        "items": items,
        "keys_known": !matches!(operation, "Query"),
    })
}

/// The partition key (`pk`) of an item's `Key` or `Item`, up to and including its first `#`.
fn key_prefix(entry: &Value) -> Value {
    let pk = entry["Key"]["pk"]["S"]
        .as_str()
        .or_else(|| entry["Item"]["pk"]["S"].as_str());
    match pk {
        Some(pk) => json!(pk.find('#').map_or(pk, |end| &pk[..=end])),
        None => Value::Null,
    }
}

/// SNS's query protocol: the topic or endpoint published to, or none (a phone number).
fn sns_resource(body: &[u8]) -> Value {
    let body = String::from_utf8_lossy(body);
    let field = |name: &str| {
        body.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| percent_decode(value))
    };
    json!({
        "arn": field("TopicArn").or_else(|| field("TargetArn")),
        "phone_number": field("PhoneNumber").is_some(),
    })
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// SES v2's `SendEmail`: the sender and the configuration set, if any.
fn ses_resource(body: &[u8]) -> Value {
    let body = json_body(body);
    json!({
        "from": body["FromEmailAddress"],
        "configuration_set": body["ConfigurationSetName"],
    })
}

#[test]
fn a_transaction_is_recorded_item_by_item_with_key_prefixes_only() {
    let body = json!({"TransactItems": [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "dest#secret-pseudonym"}}}},
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "rate#client#1.2.3.4#7"}}}},
    ]});
    let call = call(
        Function::Send,
        "DynamoDB",
        "TransactWriteItems",
        body.to_string().as_bytes(),
    );
    assert_eq!(
        call,
        json!({
            "function": "SendFunction",
            "action": "dynamodb:TransactWriteItems",
            "resource": {
                "tables": ["t"],
                "index": null,
                "items": [
                    {"request": "Put", "key": "dest#"},
                    {"request": "Update", "key": "rate#"},
                ],
                "keys_known": true,
            },
        })
    );
}

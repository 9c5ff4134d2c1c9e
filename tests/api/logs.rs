//! What the service logs must never carry a code, a secret or a full phone number / email address.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use lambda_http::{Request, RequestExt as _};
use otp_shared::ServiceSecret;
use otp_shared::adapters::NoDelivery;
use serde_json::Value;

use crate::helpers::{Recorder, otp_with};

#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        // Also kept on disk for the whole-suite check below.
        audit_file(&LOG_FILE, "logs-{pid}.jsonl")
            .lock()
            .unwrap()
            .write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A request to `path`; on a server route, as the authenticated backend.
fn post(path: &str, body: &str) -> Request {
    let mut request = lambda_http::http::Request::post(path)
        .header("content-type", "application/json")
        .body(lambda_http::Body::Text(body.to_owned()))
        .expect("a valid request");
    if path.starts_with("/v1/server/") {
        request
            .extensions_mut()
            .insert(otp_shared::http::ServerPrincipal("backend".to_owned()));
    }
    request
}

/// Everything every test in this binary logs from now on, at every level of our own crates.
///
/// A global subscriber rather than a scoped one: tracing caches per call site whether anyone
/// listens, and with a scoped subscriber that cache races with tests on other threads, so events
/// could go missing. Catching the other tests' logs too only widens the check.
pub fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        // The Lambdas' own JSON format, so the whole-suite check also holds it to that shape.
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(otp_shared::logging::lambda_json())
            .with_env_filter("info,otp_shared=trace,otp_local=trace")
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        captured
    })
}

/// Where this test binary keeps, per process, every log line and every sensitive value the tests
/// used, for [`no_log_line_of_the_whole_suite_carries_a_code_secret_or_address`]. `tests/run.sh`
/// empties it before the suite.
fn audit_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/log-audit")
}

/// The log lines and the sensitive values this process wrote, one file each.
static LOG_FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();
static SECRETS_FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// `file`, opened for appending in the audit directory as `name` with `{pid}` replaced by this
/// process's id.
fn audit_file(
    file: &'static OnceLock<Mutex<std::fs::File>>,
    name: &str,
) -> &'static Mutex<std::fs::File> {
    file.get_or_init(|| {
        std::fs::create_dir_all(audit_dir()).expect("create target/log-audit");
        let path = audit_dir().join(name.replace("{pid}", &std::process::id().to_string()));
        Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open an audit file"),
        )
    })
}

/// Records a value a test sent or received that the service must never log: a destination, a
/// code, a TOTP secret or URI, a recovery code, a token, a TOTP challenge (for 5 minutes it stands
/// for its user), the server key. Short values are skipped: they would
/// match by coincidence.
pub fn sensitive(value: &str) {
    static SEEN: OnceLock<Mutex<std::collections::HashSet<String>>> = OnceLock::new();
    let value = value.trim();
    // Masked values (`+44•••••••678`) are what logs are meant to show.
    if value.chars().count() < 6 || value.contains('\n') || value.contains('•') {
        return;
    }
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap();
    if seen.insert(value.to_owned()) {
        writeln!(
            audit_file(&SECRETS_FILE, "secrets-{pid}.txt")
                .lock()
                .unwrap(),
            "{value}"
        )
        .expect("write the secrets file");
    }
}

/// What a request or reply body carries that must never be logged.
pub fn sensitive_fields(body: &Value) {
    let Some(object) = body.as_object() else {
        return;
    };
    for (key, value) in object {
        match (key.as_str(), value) {
            (
                "to" | "code" | "recovery_code" | "secret" | "otpauth_uri" | "token"
                | "captcha_token",
                Value::String(s),
            ) => {
                sensitive(s);
                // A phone number's digits after its country code, as a log might show them.
                if s.starts_with('+') && s.len() > 8 {
                    sensitive(
                        &s.chars()
                            .filter(char::is_ascii_digit)
                            .skip(2)
                            .collect::<String>(),
                    );
                }
            }
            ("user_id", Value::String(s)) if s.contains('@') => sensitive(s),
            // A challenge the service issued (sealed: 90 characters and more); not the stand-ins
            // tests send for one, such as a send's id.
            ("challenge_id", Value::String(s)) if s.len() >= 64 => sensitive(s),
            ("recovery_codes", Value::Array(codes)) => {
                for code in codes.iter().filter_map(Value::as_str) {
                    sensitive(code);
                    sensitive(&code.replace('-', ""));
                }
            }
            ("fallback", nested @ Value::Object(_)) => sensitive_fields(nested),
            _ => {}
        }
    }
}

/// Every log line every test of the suite wrote (both runs: in memory and on the emulator) against
/// every destination, code and secret any test used: no line may carry one. Run by `tests/run.sh`
/// after the suite (`--ignored`); the audit files are what the suite left in target/log-audit.
#[test]
#[ignore = "run by tests/run.sh once the whole suite has run"]
fn no_log_line_of_the_whole_suite_carries_a_code_secret_or_address() {
    let mut secrets = Vec::new();
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(audit_dir()).expect("the suite ran first: target/log-audit") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("secrets-") {
            secrets.extend(text.lines().map(str::to_owned));
        } else if name.starts_with("logs-") {
            lines.extend(text.lines().map(str::to_owned));
        }
    }
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 200,
        "too few values recorded to prove anything: {}",
        secrets.len()
    );
    assert!(
        lines.len() >= 500,
        "too few log lines to prove anything: {}",
        lines.len()
    );
    let finder = aho_corasick::AhoCorasick::new(&secrets).unwrap();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut hits = Vec::new();
    for line in &lines {
        // Lambda's JSON log format: one object per line with a timestamp, a level and a message.
        let mut record: serde_json::Map<String, Value> = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        for key in ["timestamp", "level"] {
            assert!(record.contains_key(key), "no {key}: {line}");
        }
        assert!(
            record.contains_key("message") || record.contains_key("fields"),
            "no message: {line}"
        );
        // Its digits would match numeric codes by coincidence.
        record.remove("timestamp");
        let text = Value::Object(record).to_string();
        for found in finder.find_overlapping_iter(&text) {
            // Whole values only: a code inside a longer run of letters and digits is another value.
            let before = text[..found.start()].chars().next_back();
            let after = text[found.end()..].chars().next();
            if !word(before) && !word(after) {
                hits.push(format!(
                    "{:?} in {line}",
                    secrets[found.pattern().as_usize()]
                ));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "{} log lines carry a secret:\n{}",
        hits.len(),
        hits.join("\n")
    );
}

/// Codes are 10 alphanumeric characters here, so none can turn up in a log by coincidence.
#[tokio::test(flavor = "current_thread")]
async fn logs_carry_no_code_secret_or_full_address() {
    let captured = captured();

    let secret_text = "a service secret that must never be logged";
    let secret = ServiceSecret::parse(secret_text).unwrap();
    let recorder = Recorder::default();
    let otp = otp_with(recorder.clone(), &secret);

    let mut codes = Vec::new();
    // Not +447400123456: that is the example in the service's own validation messages, which
    // other tests provoke and this subscriber also catches.
    for (channel, to) in [("sms", "+447912345678"), ("email", "ana.lima@example.com")] {
        let body = format!(
            r#"{{"channel":"{channel}","to":"{to}","template":"Code {{code}} for {{purpose}}","length":10,"alphabet":"alphanumeric"}}"#
        );
        let sent = otp_shared::http::send(&otp, post("/v1/server/otp/send", &body))
            .await
            .unwrap();
        assert_eq!(sent.status(), 202);
        let sent: Value = serde_json::from_slice(sent.body().as_ref()).unwrap();
        let id = sent["id"].as_str().unwrap().to_owned();
        let text = recorder.last().text;
        let code = text.split_whitespace().nth(1).unwrap().to_owned();
        for attempt in ["2222222222", code.as_str(), code.as_str()] {
            let body = format!(r#"{{"id":"{id}","code":"{attempt}"}}"#);
            otp_shared::http::verify(&otp, post("/v1/otp/verify", &body))
                .await
                .unwrap();
        }
        // A refused resend and a bad request are logged too.
        otp_shared::http::send(&otp, post("/v1/server/otp/send", &body))
            .await
            .unwrap();
        let bad = format!(r#"{{"channel":"{channel}","to":"{to}","length":99}}"#);
        otp_shared::http::send(&otp, post("/v1/otp/send", &bad))
            .await
            .unwrap();
        codes.push(code);
    }
    // A failed delivery is logged with its cause.
    let failing = otp_with(NoDelivery, &secret);
    let body = r#"{"channel":"sms","to":"+14155552671"}"#;
    assert_eq!(
        otp_shared::http::send(&failing, post("/v1/otp/send", body))
            .await
            .unwrap()
            .status(),
        502
    );

    // Authenticator apps: enrol, confirm, replay, a wrong code, a recovery code, read, remove. The
    // user id is an email address here, as apps often make it.
    let user = "carla.mendes@example.com";
    let body = format!(r#"{{"user_id":"{user}","issuer":"Acme","account":"{user}"}}"#);
    let enrolled = otp_shared::http::enroll(&otp, post("/v1/server/totp/enroll", &body))
        .await
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    let enrolled: Value = serde_json::from_slice(enrolled.body().as_ref()).unwrap();
    let uri = enrolled["otpauth_uri"].as_str().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let totp_code = totp_rs::Totp::from_url(uri)
        .unwrap()
        .generate(now)
        .to_string();
    let recovery = enrolled["recovery_codes"][0].as_str().unwrap();
    for proof in [
        format!(r#""code":"{totp_code}""#),
        format!(r#""code":"{totp_code}""#),
        r#""code":"000000""#.to_owned(),
        format!(r#""recovery_code":"{recovery}""#),
    ] {
        let body = format!(r#"{{"user_id":"{user}",{proof}}}"#);
        otp_shared::http::verify(&otp, post("/v1/server/otp/verify", &body))
            .await
            .unwrap();
    }
    let path = format!("/v1/server/totp/enroll/{user}");
    for method in ["GET", "DELETE"] {
        let mut request = lambda_http::http::Request::builder()
            .method(method)
            .uri(&path)
            .body(lambda_http::Body::Empty)
            .unwrap()
            .with_path_parameters(std::collections::HashMap::from([(
                "user_id".to_owned(),
                user.to_owned(),
            )]));
        request
            .extensions_mut()
            .insert(otp_shared::http::ServerPrincipal("backend".to_owned()));
        let reply = otp_shared::http::enroll(&otp, request).await.unwrap();
        assert!(reply.status().is_success(), "{method}: {}", reply.status());
    }
    let totp_secrets: Vec<String> = [enrolled["secret"].as_str().unwrap(), uri, "carla.mendes"]
        .into_iter()
        .map(str::to_owned)
        .chain(
            enrolled["recovery_codes"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| {
                    let c = c.as_str().unwrap();
                    [c.to_owned(), c.replace('-', "")]
                }),
        )
        .collect();

    let logs = captured.text();
    assert!(
        logs.lines().count() >= 10,
        "too little was logged to prove anything:\n{logs}"
    );
    assert!(
        logs.contains("+44•••••••678"),
        "masked destinations are logged"
    );
    assert!(
        logs.contains("totp_verify") && logs.contains("enrolment removed"),
        "the TOTP flows are logged"
    );
    let forbidden = [
        "+447912345678",
        "7912345678",
        "ana.lima@example.com",
        "ana.lima",
        "4155552671",
        secret_text,
    ];
    for needle in forbidden
        .iter()
        .copied()
        .chain(codes.iter().map(String::as_str))
        .chain(totp_secrets.iter().map(String::as_str))
    {
        assert!(
            !logs.contains(needle),
            "the logs contain {needle:?}:\n{logs}"
        );
    }
}

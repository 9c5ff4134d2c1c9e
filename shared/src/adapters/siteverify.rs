//! The bot check's real adapter: the provider's `siteverify` over HTTPS.
//!
//! Turnstile, hCaptcha and reCAPTCHA share one protocol: a POST of
//! `application/x-www-form-urlencoded` `secret`, `response` (the browser's token) and optionally
//! `remoteip`, answered with JSON `{"success": bool, "error-codes": [...], "hostname": ...}`:
//! <https://developers.cloudflare.com/turnstile/get-started/server-side-validation/>,
//! <https://docs.hcaptcha.com/#verify-the-user-response-server-side>,
//! <https://developers.google.com/recaptcha/docs/verify>.
//!
//! One HTTP/TLS stack: hyper 1 through hyper-util's client, rustls with ring and the system's root
//! certificates, as the AWS SDK's client (shared/src/adapters/aws/mod.rs) already links.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use tracing::Instrument as _;
use zeroize::Zeroizing;

use crate::config::ConfigError;
use crate::domain::{BotCheckProvider, CaptchaToken};
use crate::ports::{BotCheck, BotCheckFuture, BotCheckUnavailable, BotVerdict};

/// The whole exchange, connection included: a provider slower than this gives no verdict, so the
/// send is answered (503, or let through when the profile fails open) well inside the Lambda's
/// 10 s.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Connecting alone.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A provider's reply is a few hundred bytes; a longer one is not a reply.
const MAX_REPLY_BYTES: usize = 16 * 1024;

/// Error codes that blame our request rather than the token (a wrong or missing secret, a
/// malformed request, the provider's own failure): no verdict on the token, and an operator's
/// problem, so they are logged as errors and never answered as a failed check.
const NOT_THE_TOKENS_FAULT: &[&str] = &[
    "missing-input-secret",
    "invalid-input-secret",
    "bad-request",
    "internal-error",
    "sitekey-secret-mismatch",
    "invalid-remoteip",
];

/// The deployment's bot-check secret (`OTP_CAPTCHA_SECRET`, or the Secrets Manager secret
/// `OTP_CAPTCHA_SECRET_ARN` names). Never printed.
#[derive(Clone)]
pub struct CaptchaSecret(Zeroizing<String>);

impl CaptchaSecret {
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let value = value.trim();
        if value.is_empty() || value.len() > 1024 || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError {
                variable: "OTP_CAPTCHA_SECRET",
                detail: "must be the provider's secret key: 1 to 1024 visible ASCII characters"
                    .to_owned(),
            });
        }
        Ok(Self(Zeroizing::new(value.to_owned())))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for CaptchaSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaptchaSecret(<redacted>)")
    }
}

/// `OTP_CAPTCHA_VERIFY_URL`, for tests only: a `siteverify` to ask instead of every provider's
/// own. `https://`, or `http://` to a loopback address only, so a stray setting can never send the
/// secret in clear over a network.
pub fn verify_url_override(raw: &str) -> Result<Uri, ConfigError> {
    let invalid = |detail: &str| ConfigError {
        variable: "OTP_CAPTCHA_VERIFY_URL",
        detail: detail.to_owned(),
    };
    let uri: Uri = raw
        .trim()
        .parse()
        .map_err(|_| invalid("must be an absolute URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| invalid("must be an absolute URL"))?;
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(invalid(
            "must be https://, or http:// to a loopback address (tests only; leave it unset in production)",
        )),
    }
}

/// Asks the provider's `siteverify` about each token.
pub struct SiteVerify {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    secret: CaptchaSecret,
    /// Every provider's endpoint replaced (tests' fake `siteverify`).
    endpoint: Option<Uri>,
}

impl SiteVerify {
    /// A client with the system's root certificates (read once, here: at start).
    pub fn new(secret: CaptchaSecret, endpoint: Option<Uri>) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .context("loading the root certificates for the bot check")?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            secret,
            endpoint,
        })
    }

    /// The bot check `OTP_CAPTCHA_SECRET` (through `lookup`) configures, with
    /// `OTP_CAPTCHA_VERIFY_URL` if set; `None` without a secret.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        let Some(secret) = lookup("OTP_CAPTCHA_SECRET") else {
            return Ok(None);
        };
        Ok(Some(Self::with_secret(
            CaptchaSecret::parse(&secret)?,
            lookup,
        )?))
    }

    /// The bot check with `secret`, and `OTP_CAPTCHA_VERIFY_URL` (through `lookup`) if set.
    pub fn with_secret(
        secret: CaptchaSecret,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let endpoint = lookup("OTP_CAPTCHA_VERIFY_URL")
            .map(|raw| verify_url_override(&raw))
            .transpose()?;
        if let Some(endpoint) = &endpoint {
            tracing::warn!(%endpoint, "OTP_CAPTCHA_VERIFY_URL is set: every bot check goes there, not to the provider (tests only)");
        }
        Self::new(secret, endpoint)
    }

    async fn ask(
        &self,
        provider: BotCheckProvider,
        token: &CaptchaToken,
        remote_ip: Option<IpAddr>,
    ) -> anyhow::Result<(http::StatusCode, Bytes)> {
        let uri = match &self.endpoint {
            Some(uri) => uri.clone(),
            None => Uri::from_static(provider.verify_url()),
        };
        let encode = |value: &str| utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
        let mut form = format!(
            "secret={}&response={}",
            encode(self.secret.expose()),
            encode(token.expose())
        );
        if let Some(ip) = remote_ip {
            form.push_str(&format!("&remoteip={}", encode(&ip.to_string())));
        }
        let request = http::Request::post(uri)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(form)))
            .context("building the siteverify request")?;
        let response = self
            .client
            .request(request)
            .await
            .context("calling siteverify")?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow!("reading the siteverify reply: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}

impl BotCheck for SiteVerify {
    fn verify<'a>(
        &'a self,
        provider: BotCheckProvider,
        token: &'a CaptchaToken,
        remote_ip: Option<IpAddr>,
    ) -> BotCheckFuture<'a> {
        Box::pin(
            async move {
                let (status, body) =
                    tokio::time::timeout(TIMEOUT, self.ask(provider, token, remote_ip))
                        .await
                        .map_err(|_| anyhow!("siteverify did not answer within {TIMEOUT:?}"))
                        .and_then(|answer| answer)
                        .map_err(BotCheckUnavailable)?;
                verdict(status, &body).map_err(BotCheckUnavailable)
            }
            .instrument(tracing::info_span!(
                "bot_check",
                provider = provider.as_str()
            )),
        )
    }
}

/// The reply as the providers document it; other members are ignored.
#[derive(Deserialize)]
struct Reply {
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
    hostname: Option<String>,
}

/// The verdict in a reply, or why there is none.
fn verdict(status: http::StatusCode, body: &[u8]) -> anyhow::Result<BotVerdict> {
    if !status.is_success() {
        return Err(anyhow!("siteverify answered {status}"));
    }
    let reply: Reply =
        serde_json::from_slice(body).context("siteverify's reply is not the JSON expected")?;
    if let Some(code) = reply
        .error_codes
        .iter()
        .find(|code| NOT_THE_TOKENS_FAULT.contains(&code.as_str()))
    {
        return Err(anyhow!(
            "siteverify refused our request ({code}): check OTP_CAPTCHA_SECRET and the profile's provider"
        ));
    }
    Ok(BotVerdict {
        success: reply.success,
        hostname: reply.hostname.filter(|host| !host.is_empty()),
        error_codes: reply.error_codes,
    })
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    #[test]
    fn a_reply_gives_the_verdict_or_none() {
        let ok = verdict(
            StatusCode::OK,
            br#"{"success": true, "hostname": "example.com", "error-codes": [], "action": "x"}"#,
        )
        .unwrap();
        assert!(ok.success);
        assert_eq!(ok.hostname.as_deref(), Some("example.com"));

        let refused = verdict(
            StatusCode::OK,
            br#"{"success": false, "error-codes": ["timeout-or-duplicate"]}"#,
        )
        .unwrap();
        assert!(!refused.success);
        assert_eq!(refused.error_codes, ["timeout-or-duplicate"]);

        for (status, body) in [
            (StatusCode::INTERNAL_SERVER_ERROR, &b"{}"[..]),
            (StatusCode::BAD_REQUEST, br#"{"success": false}"#),
            (StatusCode::OK, b"<html>maintenance</html>"),
            (StatusCode::OK, br#"{"error-codes": []}"#),
            (
                StatusCode::OK,
                br#"{"success": false, "error-codes": ["invalid-input-secret"]}"#,
            ),
        ] {
            assert!(verdict(status, body).is_err(), "{status} {body:?}");
        }
    }

    #[test]
    fn the_verify_url_override_is_https_or_loopback_only() {
        for good in [
            "https://siteverify.example.com/siteverify",
            "http://127.0.0.1:8080/siteverify",
            "http://localhost:1/x",
            "http://[::1]:9/x",
        ] {
            assert!(verify_url_override(good).is_ok(), "{good}");
        }
        for bad in [
            "http://siteverify.example.com/x",
            "http://10.0.0.1/x",
            "/siteverify",
            "ftp://127.0.0.1/x",
        ] {
            let error = verify_url_override(bad).unwrap_err();
            assert_eq!(error.variable, "OTP_CAPTCHA_VERIFY_URL", "{bad}");
        }
    }

    #[test]
    fn the_secret_is_checked_and_never_printed() {
        assert!(CaptchaSecret::parse("").is_err());
        assert!(CaptchaSecret::parse("has a space").is_err());
        let secret = CaptchaSecret::parse("0x4AAAAAAAsecretvalue").unwrap();
        assert!(!format!("{secret:?}").contains("secretvalue"));
    }
}

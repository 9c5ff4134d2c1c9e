//! CORS as the stack's HTTP API answers it (template.yaml, `AllowedOrigins`): exactly the configured
//! origins, never a wildcard. A preflight from one of them gets the allowed methods and headers; a
//! response to one of them names it in `Access-Control-Allow-Origin`; anyone else gets no CORS
//! headers, so their browser keeps the reply from their page.

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Response};

/// The allowed origins (`--allowed-origin`, repeatable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cors {
    origins: Vec<String>,
}

/// The same lists as the template's CORS settings.
const ALLOW_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "content-type, idempotency-key";
const EXPOSE_HEADERS: &str = "retry-after";
const MAX_AGE: &str = "600";

impl Cors {
    /// Each origin must be `scheme://host[:port]`, as browsers send it: no path, no wildcard.
    pub fn new(origins: &[String]) -> Result<Self, String> {
        for origin in origins {
            let (scheme, rest) = origin
                .split_once("://")
                .ok_or_else(|| format!("{origin:?} is not an origin (scheme://host[:port])"))?;
            let valid = matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
            if !valid {
                return Err(format!(
                    "{origin:?} is not an origin: give scheme://host[:port], no path and no wildcard"
                ));
            }
        }
        Ok(Self {
            origins: origins.to_vec(),
        })
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|allowed| allowed == origin)
    }

    /// A CORS preflight (`OPTIONS` with `Access-Control-Request-Method`), answered here.
    pub fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The answer to a preflight: `204` with the allowed methods and headers for an allowed origin,
    /// `403` for any other.
    pub fn preflight(&self, origin: Option<&str>) -> Response<Body> {
        match origin.filter(|o| self.allows(o)) {
            Some(origin) => {
                let mut response = Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS)
                    .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS)
                    .header(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE)
                    .header(header::CACHE_CONTROL, "no-store")
                    .body(Body::Empty)
                    .expect("static response");
                allow(response.headers_mut(), origin);
                response
            }
            None => {
                let problem = serde_json::json!({
                    "type": "urn:problem-type:otp-lambda:origin-not-allowed",
                    "title": "Origin not allowed",
                    "status": 403,
                    "detail": "this origin may not call the API from a browser",
                });
                Response::builder()
                    .status(StatusCode::FORBIDDEN)
                    .header(header::CONTENT_TYPE, "application/problem+json")
                    .header(header::CACHE_CONTROL, "no-store")
                    .header(header::VARY, "origin")
                    .body(Body::Text(problem.to_string()))
                    .expect("static response")
            }
        }
    }

    /// Names an allowed origin in a response to it.
    pub fn decorate(&self, origin: Option<&str>, response: &mut Response<Body>) {
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("origin"));
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            allow(headers, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_with_no_path_or_wildcard() {
        assert!(
            Cors::new(&[
                "https://app.example.com".into(),
                "http://127.0.0.1:5173".into()
            ])
            .is_ok()
        );
        for bad in [
            "*",
            "https://*.example.com",
            "app.example.com",
            "https://a.example/x",
            "ftp://a",
        ] {
            assert!(Cors::new(&[bad.into()]).is_err(), "{bad}");
        }
    }
}

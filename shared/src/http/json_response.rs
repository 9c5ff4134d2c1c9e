//! A successful reply's JSON body and headers; errors have their own, in [`ApiError`](super::ApiError).

use lambda_http::{Body, Response};
use serde::Serialize;

/// A JSON reply. OTP replies are never cacheable.
pub fn json_response(status: http::StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("reply types always serialise");
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::Binary(body))
        .expect("static headers are valid")
}

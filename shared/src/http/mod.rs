//! The HTTP edge: the handlers each Lambda (and otp-local) calls, body parsing, and the one place
//! where outcomes and errors become HTTP statuses ([`error`]).

mod body;
mod client;
mod dto;
pub mod error;
mod handlers;
mod totp_dto;

/// Where they were before the route table: [`crate::routes`] has them.
pub use crate::routes::{JWKS_PATH, SERVER_PREFIX};
pub use body::MAX_BODY_BYTES;
pub use client::{PeerAddress, ServerPrincipal, client_address, server_principal};
pub use error::ApiError;
pub use handlers::{enroll, enroll_function, jwks, send, totp_challenge, verify, verify_function};

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

//! The HTTP edge: the handlers each Lambda (and otp-local) calls, body parsing, and the one place
//! where outcomes and errors become HTTP statuses ([`error`]). This file only declares the modules
//! and re-exports what other crates use.

mod body;
mod client;
mod dto;
pub mod error;
mod handlers;
mod json_response;
mod limits;

/// Where they were before the route table: [`crate::routes`] has them.
pub use crate::routes::{JWKS_PATH, SERVER_PREFIX};
pub use client::{PeerAddress, ServerPrincipal, client_address, server_principal};
pub use error::ApiError;
pub use handlers::{enroll, enroll_function, jwks, send, totp_challenge, verify, verify_function};
pub use json_response::json_response;
pub use limits::MAX_BODY_BYTES;

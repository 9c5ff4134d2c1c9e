//! The limits the HTTP edge enforces before it reads a request: [`body`](super::body) refuses a
//! larger body, and [`ApiError`](super::ApiError) names the limit in its reply.

/// Bodies above this size are refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

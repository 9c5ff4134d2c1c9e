//! Reading a body's fields into domain values: an absent or invalid field becomes an
//! [`ApiError`] that names it.

use crate::domain::Invalid;
use crate::http::ApiError;

/// What most fields must be, for [`Field::expected`](crate::http::body::Field::expected).
pub(super) const STRING: &str = "a string";

pub(super) fn required<T>(value: Option<T>, field: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(field, "is required"))
}

pub(super) fn at(field: &'static str) -> impl Fn(Invalid) -> ApiError {
    move |invalid| ApiError::invalid(field, invalid.0)
}

pub(super) fn optional<T>(
    value: Option<String>,
    field: &'static str,
    parse: impl Fn(&str) -> Result<T, Invalid>,
) -> Result<Option<T>, ApiError> {
    value.map(|v| parse(&v)).transpose().map_err(at(field))
}

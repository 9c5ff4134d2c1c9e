//! Reading a JSON body: size cap, media type, syntax, known fields, types. Error messages name the
//! field and what it should be, and never repeat the value sent (it may be a code or an address).

use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ApiError;
use super::limits::MAX_BODY_BYTES;

/// A field a route accepts, and what it must be (for error messages).
pub struct Field {
    pub name: &'static str,
    pub expected: &'static str,
}

pub fn parse<T: DeserializeOwned>(request: &Request, fields: &[Field]) -> Result<T, ApiError> {
    check_media_type(request)?;
    let bytes = bytes(request);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::BodyTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson(
            "the body is empty; send a JSON object".into(),
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's syntax errors state a position, never the input.
        ApiError::MalformedJson(e.to_string())
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::MalformedJson(
            "the body must be a JSON object".into(),
        ));
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
    {
        // Only a name that could be a field is repeated: any other key may be a code or an
        // address sent by mistake, which must come back in no reply and go into no log line.
        let shown = if looks_like_a_field_name(unknown) {
            unknown.as_str()
        } else {
            "(not shown)"
        };
        let known: Vec<_> = fields.iter().map(|f| f.name).collect();
        return Err(ApiError::invalid(
            shown,
            format!(
                "is not a field of this request; known fields: {}",
                known.join(", ")
            ),
        ));
    }
    deserialize(object, fields)
}

/// The first of `names` the body (a JSON object [`parse`] accepted) has as a key, whatever its
/// value: `null` included, so a field a caller may not set is refused, never silently ignored.
pub fn first_present(request: &Request, names: &[&'static str]) -> Option<&'static str> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(bytes(request)) else {
        return None;
    };
    names
        .iter()
        .copied()
        .find(|name| object.contains_key(*name))
}

/// The body of a request [`parse`] accepted, as JSON with sorted keys and no insignificant
/// whitespace: the same request however a client spaced or ordered it. Without
/// `captcha_token`: a bot-check token is single use, so a retry carries a fresh one, and is still
/// the same request.
pub fn canonical(request: &Request) -> Vec<u8> {
    // serde_json's map is ordered by key (this workspace does not enable `preserve_order`).
    serde_json::from_slice::<Value>(bytes(request))
        .map(|mut value| {
            if let Value::Object(object) = &mut value {
                object.remove("captcha_token");
            }
            value
        })
        .and_then(|value| serde_json::to_vec(&value))
        .unwrap_or_default()
}

fn bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// Lower-case letters, digits and underscores, starting with a letter, at most 64: what this API's
/// field names look like, and no code (upper case) or address (`+`, `@`) does.
fn looks_like_a_field_name(key: &str) -> bool {
    key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn deserialize<T: DeserializeOwned>(
    object: Map<String, Value>,
    fields: &[Field],
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|error| {
        let path = error.path().to_string();
        let name = path.split(['.', '[']).next().unwrap_or_default();
        match fields.iter().find(|f| f.name == name) {
            Some(field) => ApiError::invalid(field.name, format!("must be {}", field.expected)),
            None => ApiError::MalformedJson("the body does not have the expected shape".into()),
        }
    })
}

fn check_media_type(request: &Request) -> Result<(), ApiError> {
    // A body with no media type is refused too: it is what a cross-site "simple" request sends
    // without a CORS preflight, so accepting it would let any page make its visitors' browsers
    // send codes.
    let Some(value) = request.headers().get(http::header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType);
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

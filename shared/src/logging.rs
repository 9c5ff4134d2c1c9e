//! Logging for a Lambda, following Lambda's advanced logging controls.

use std::str::FromStr;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields};
use tracing_subscriber::fmt::time::SystemTime;

/// Installs the process's subscriber: level from `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO),
/// JSON lines ([`lambda_json`]) when `AWS_LAMBDA_LOG_FORMAT=JSON`, else text without timestamps
/// (Lambda stamps text lines itself).
///
/// lambda_http's own initialiser does the same with an `EnvFilter`, which brings a second regex
/// engine into every binary; a plain level filter is all a function needs.
pub fn init_lambda_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(|level| level_filter(&level))
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        tracing_subscriber::fmt()
            .with_max_level(level)
            .fmt_fields(JsonFields::new())
            .event_format(lambda_json())
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_target(false)
            .with_ansi(false)
            .without_time()
            .with_max_level(level)
            .init();
    }
}

/// One JSON object per line in the shape of Lambda's JSON log format: `timestamp` (RFC 3339, UTC),
/// `level`, `message`, the event's own fields beside them, and `spans`, the open spans with their
/// fields (lambda_runtime's carries `requestId`, ours the masked destination and the challenge id).
pub fn lambda_json() -> Format<Json, SystemTime> {
    tracing_subscriber::fmt::format()
        .json()
        .with_target(false)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
}

/// A Lambda log level (`TRACE` … `ERROR`, and `FATAL`, which tracing calls `ERROR`); INFO otherwise.
fn level_filter(level: &str) -> LevelFilter {
    if level.trim().eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    LevelFilter::from_str(level.trim()).unwrap_or(LevelFilter::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_levels_map_to_tracing_levels() {
        assert_eq!(level_filter("DEBUG"), LevelFilter::DEBUG);
        assert_eq!(level_filter("warn"), LevelFilter::WARN);
        assert_eq!(level_filter("FATAL"), LevelFilter::ERROR);
        assert_eq!(level_filter("nonsense"), LevelFilter::INFO);
    }
}

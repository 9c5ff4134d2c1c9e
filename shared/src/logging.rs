//! Logging for a Lambda, following Lambda's advanced logging controls.

use std::str::FromStr;

use tracing_subscriber::filter::LevelFilter;

/// Installs the process's subscriber: level from `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`, else INFO),
/// JSON lines when `AWS_LAMBDA_LOG_FORMAT=JSON`. No timestamps or targets: Lambda adds its own.
///
/// lambda_http's own initialiser does the same with an `EnvFilter`, which brings a second regex
/// engine into every binary; a plain level filter is all a function needs.
pub fn init_lambda_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(|level| level_filter(&level))
        .unwrap_or(LevelFilter::INFO);
    let subscriber = tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .with_max_level(level);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
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

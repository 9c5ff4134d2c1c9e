//! Property tests (proptest). Each property runs a fixed number of generated cases, chosen so the
//! whole binary stays within seconds in a debug build; `PROPTEST_CASES=10000 cargo test -p
//! otp-shared --test properties` runs every property with that many instead.

mod any_json;
mod codes;
mod masks;
mod store_model;
mod totp_store_model;

use proptest::test_runner::Config;

/// `cases` generated inputs per property, unless `PROPTEST_CASES` says otherwise. Failing cases
/// are saved under `shared/proptest-regressions/` and replayed first on every later run.
fn config(cases: u32) -> Config {
    Config::with_cases(cases)
}

/// One single-threaded runtime per test: the handlers and the store are driven from the test's
/// own thread, so a panic anywhere fails the case that caused it.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

//! Configuration, read once at start-up from the environment into [`Settings`]. Every setting has a
//! safe default.

mod error;
mod read;
mod variables;

pub use crate::settings::Settings;
pub use error::ConfigError;
pub use read::{env_var, metrics_namespace, service_secret_from_env};

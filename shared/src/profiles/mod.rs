//! Profiles: the operator's settings for one app or flow (channels, code strength and lifetime,
//! brand, templates, the lists a browser may choose from). They are configuration as code: the
//! repository's `profiles.json`, compiled into every binary and parsed once at start, or a file
//! otp-local is given. A public send names a profile and may choose only from its lists; only the
//! app's backend may go beyond them, and never below the profile's strength or above its lifetime.
//!
//! - `profile`: one profile ([`Profile`]) as the service reads it, the built-in `default`, and the
//!   error naming a profile's field.
//! - `check`: the floors and caps every profile meets (code strength, lifetime, one-segment SMS).
//! - `set`: every profile of a deployment, by name ([`Profiles`]).
//! - `parse`: the profile file (JSON) and its rules, and the file compiled in ([`EMBEDDED`]).

mod check;
mod parse;
mod profile;
mod set;

pub use crate::domain::ProfileName;
pub use check::{MAX_TTL_SECONDS, MIN_COMBINATIONS, combinations, sms_segments};
pub use parse::EMBEDDED;
pub use profile::{DEFAULT_PROFILE, FallbackPolicy, Profile, ProfileError};
pub use set::Profiles;

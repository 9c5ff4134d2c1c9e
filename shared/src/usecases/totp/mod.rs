//! Authenticator apps: enrol, check a code (each time step once), use a recovery code, read and
//! remove an enrolment. User ids may be email addresses, so they are never logged; the random
//! enrolment id is.
//!
//! - `enroll`: enrol a user's authenticator, and remove it.
//! - `challenge`: the sealed challenge a browser verifies under instead of a user id.
//! - `verify`: check a code or a recovery code, under the guess budget; the outcome.
//! - `status`: an enrolment's state, never its secret.
//! - `error`: what the TOTP use cases fail with.

mod challenge;
mod enroll;
mod error;
mod status;
mod verify;

pub use challenge::{CHALLENGE_FOR, ChallengeRefusal, TotpChallenge};
pub use enroll::{EnrollRequest, NewEnrollment, PENDING_FOR};
pub use error::TotpError;
pub use status::EnrollmentStatus;
pub use verify::{TotpOutcome, TotpProof, TotpVerifyRequest};

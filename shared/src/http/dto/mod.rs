//! The wire shapes of each route (the fields a body may have, the body, the reply) and their
//! conversion to and from the domain, one file per route. This file only declares and re-exports.

mod challenge;
mod enrollment;
mod fields;
mod send_body;
mod send_reply;
mod timestamps;
mod verify_body;
mod verify_reply;

pub use challenge::{CHALLENGE_FIELDS, ChallengeBody, ChallengeReply};
pub use enrollment::{ENROLL_FIELDS, EnrollBody, EnrollReply, StatusReply};
pub use send_body::{SEND_FIELDS, SERVER_ONLY_SEND_FIELDS, SendBody};
pub use send_reply::SendReply;
pub use verify_body::{VERIFY_FIELDS, VerifyBody, VerifyKind};
pub use verify_reply::{TotpVerifyReply, VerifyReply};

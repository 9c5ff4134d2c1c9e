//! The use cases, generic over the store and notifier ports. They know no HTTP and no AWS.

mod bot_check;
mod otp;
mod send;
mod totp;
mod verify;

pub use otp::{Otp, Requester};
pub use send::{
    BotCheckError, Caller, FallbackReason, IDEMPOTENCY_LEASE, IDEMPOTENCY_WINDOW, Idempotency,
    SendError, SendReceipt, SendRequest,
};
pub use totp::{
    CHALLENGE_FOR, ChallengeRefusal, EnrollRequest, EnrollmentStatus, NewEnrollment, PENDING_FOR,
    TotpChallenge, TotpError, TotpOutcome, TotpProof, TotpVerifyRequest,
};
pub use verify::{Verification, VerifyError, VerifyRequest};

use otp::until;

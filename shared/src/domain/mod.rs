//! Domain values. Each is built by parsing, so the rest of the code cannot hold an invalid one.

mod captcha;
mod challenge;
mod code;
mod code_state;
mod destination;
mod guesses;
mod idempotency;
mod invalid;
mod phone_metadata;
mod quota;
mod region;
mod sending;
mod text;
mod transaction;
mod user;
mod web_otp;

pub use captcha::{BotCheckPolicy, BotCheckProvider, CaptchaToken};
pub use challenge::{ChallengeId, IdempotencyKey, Purpose, Reference, Ttl};
pub use code::{Alphabet, Code, CodeAttempt, CodeLength, CodeSpec};
pub use code_state::{CODE_RETENTION, CodeCheck, CodeState, Refusal};
pub use destination::{Channel, Destination, EmailAddress, LineType, Mailbox, PhoneNumber};
pub use guesses::{
    ESCALATION_MEMORY, Guess, GuessBudget, GuessLock, GuessRecord, NetworkGuesses, NetworkKey,
    hour_of,
};
pub use idempotency::{HeldKey, IdempotencyClaim, LAPSED_LEASE_KEPT, keep_claim_until};
pub use invalid::Invalid;
pub use quota::{Charge, MAX_SHARDS, Plan, Quota, QuotaKind, Room};
pub use region::{Money, Region};
pub use sending::{SendAdmission, SendPolicy};
pub use text::{Brand, Locale, ProfileName};
pub use transaction::Transaction;
pub use user::UserId;
pub use web_otp::{AndroidAppHash, SmsBinding, WebOtpOrigin};

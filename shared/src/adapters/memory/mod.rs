//! A store in process memory. One lock makes every operation atomic, as a conditional write does in
//! DynamoDB. For otp-local and tests; a Lambda needs a store shared by its containers.

mod challenges;
mod enrollments;
mod state;

pub use state::MemoryStore;

//! The challenge store on DynamoDB.
//!
//! One table with a string partition key `pk`; every item kind has its own key prefix and carries
//! `purge_at` (epoch seconds), the table's TTL attribute. TTL only tidies up: expiry is always checked
//! in a condition, because DynamoDB deletes expired items lazily (up to days later).
//!
//! - `code#<challenge id>`: one issued code — its keyed hash, state, expiry (epoch ms), attempts.
//! - `dest#<destination pseudonym>`: the recent sends to one destination and the last code per
//!   purpose, with a version for optimistic concurrency.
//! - `rate#<counter>#<window>`: a quota counter (`used`): sends from one client address (keyed
//!   pseudonym) or SMS to one country calling code or in all, per clock hour; SMS spend per UTC day
//!   (in millionths).
//!
//! - `idem#<key hash>`: a send made idempotent by the caller's key — a hash of the request, the
//!   holder's id, and once the send succeeded its reply; `until_ms` ends the holder's lease, then the
//!   time the reply is kept. Claimed with one conditional `PutItem`, settled with one conditional
//!   `UpdateItem` or `DeleteItem` on the holder.
//!
//! An approval is exactly one `UpdateItem`. A code counts as consumed once the hash of an attempt
//! recorded on it equals its code hash, so the same write that counts an attempt also consumes the
//! code: the condition requires the code pending, unexpired, below its attempt cap, not yet matched
//! (`last_attempt_hash <> code_hash`) and the asking network not locked out (the code's copies of its
//! destination's guess locks), and the update records the attempt's hash. The old item comes back
//! and the hashes are compared here in constant time; a refused condition returns the old item,
//! which says why (consumed, withdrawn or replaced, expired, locked) without a read. A wrong code is
//! then counted against the destination's guess budget ([`guesses`]).
//!
//! A send is one consistent `GetItem` of the destination item, the cooldown and cap decided by
//! [`SendPolicy::admit`], then one `TransactWriteItems`: the destination item (conditional on its
//! version), the new code item, the withdrawal of the code it replaces, and one conditional `ADD`
//! per quota counter, so a send over any limit records and charges nothing. A concurrent send to the
//! same destination makes the transaction fail its version check; the send is then decided again.

mod challenges;
mod code_item;
mod codec;
mod destination_item;
mod enrollment_item;
mod enrollments;
mod errors;
mod guesses;
mod idempotency;
mod store;
mod table;

pub use store::DynamoStore;
pub use table::create_table_if_missing;

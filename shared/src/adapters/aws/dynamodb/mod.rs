//! The challenge and TOTP stores on DynamoDB: one table, one file per item kind and operation.
//!
//! The item layout, every condition and what each operation costs are in docs/storage.md; each file
//! says what it adds. In short: `code#<id>` ([`code_item`]), `dest#<pseudonym>` ([`destination_item`],
//! with its guess record, [`guesses`]), `rate#<counter>` (quotas, charged in [`challenges`]),
//! `idem#<key hash>` ([`idempotency`]) and `totp#<user>` ([`enrollment_item`], [`enrollments`]).
//! An approval is one `UpdateItem`; a send one `GetItem` and one `TransactWriteItems`.

mod challenges;
mod code_item;
mod codec;
mod counters;
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

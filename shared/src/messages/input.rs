//! Everything a message is made from, whichever channel carries it.

use crate::domain::{Brand, Code, Locale, Purpose, SmsBinding, Transaction, Ttl};

use super::template::CustomTemplate;

/// Everything a message is made from.
#[derive(Debug, Clone, Copy)]
pub struct MessageInput<'a> {
    pub code: &'a Code,
    pub brand: Option<&'a Brand>,
    pub ttl: Ttl,
    pub purpose: &'a Purpose,
    pub locale: &'a Locale,
    pub template: Option<&'a CustomTemplate>,
    /// The site and app an SMS is for, named at its end so the phone can offer the code there.
    /// Email ignores it.
    pub sms_binding: Option<&'a SmsBinding>,
    /// The payment the code confirms, for a transaction template's placeholders.
    pub transaction: Option<&'a Transaction>,
    /// How many times a call says the code (1 to [`super::MAX_REPEATS`]); ignored by SMS and email.
    pub voice_repeats: u8,
}

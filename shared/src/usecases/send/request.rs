//! A send as parsed: who asks, where the code goes and in what words, and the idempotency key it
//! may carry.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::{
    Brand, CaptchaToken, Channel, CodeSpec, Destination, EmailAddress, IdempotencyKey, Locale,
    Purpose, Reference, SmsBinding, Transaction, Ttl,
};
use crate::messages::CustomTemplate;
use crate::profiles::Profile;
use crate::usecases::otp::Requester;

/// A send, fully parsed.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// The operator's profile the send was made under: its attempts cap and templates apply.
    pub profile: Arc<Profile>,
    pub destination: Destination,
    pub purpose: Purpose,
    pub spec: CodeSpec,
    pub ttl: Ttl,
    /// The backend's own text; otherwise the profile's for the channel and locale, or the built-in.
    pub template: Option<CustomTemplate>,
    pub brand: Option<Brand>,
    pub locale: Locale,
    pub reference: Option<Reference>,
    /// The payment the code confirms (a server send only): the profile's transaction template
    /// shows it and the proof token carries it.
    pub transaction: Option<Transaction>,
    /// Where the request came from, as the platform saw it: what per-client limits key on.
    pub client: Option<std::net::IpAddr>,
    /// Who asks: a network locked out of the destination by its wrong guesses is refused.
    pub requester: Requester,
    /// Where the code goes instead when an SMS is refused by an SMS rule or fails at the provider.
    pub fallback: Option<EmailAddress>,
    /// The Web OTP origin and Android app hash an SMS ends with.
    pub sms_binding: SmsBinding,
    /// Set when the caller made the send idempotent.
    pub idempotency: Option<Idempotency>,
    /// The browser's bot-check token, checked when the profile has a bot check (public sends).
    pub captcha_token: Option<CaptchaToken>,
}

impl SendRequest {
    /// The text a message on `channel` is made from: the profile's transaction template for a
    /// transaction, else the backend's own text, else the profile's for the channel and locale
    /// (`None`: the built-in one).
    pub fn message_template(&self, channel: Channel) -> Option<&CustomTemplate> {
        if self.transaction.is_some() {
            return self.profile.transaction_template.as_ref();
        }
        self.template
            .as_ref()
            .or_else(|| self.profile.template_for(channel, &self.locale))
    }
}

/// A caller's `Idempotency-Key` and the request it is bound to.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    /// Who sent the key: keys are theirs alone.
    pub caller: Caller,
    /// The request in a canonical form (the body's JSON with sorted keys): a retry must send the
    /// same request to get the first reply.
    pub request: Vec<u8>,
}

/// Who made a request, as far as idempotency keys are scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The app's backend on a server route: its principal (the IAM caller on AWS).
    Server(String),
    /// A browser on a public route: its client network (the request's `client`) stands for it.
    Public,
}

/// How long a retry with the same key gets the first reply: a day, as Stripe keeps keys.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a send holds its key before a retry may take over: well past the function's timeout
/// (10 s), so a live send is never doubled, yet a crashed one blocks retries only briefly.
pub const IDEMPOTENCY_LEASE: Duration = Duration::from_secs(30);

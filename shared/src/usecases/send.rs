use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;

use super::{Otp, Requester, until};
use crate::domain::{
    Brand, CaptchaToken, ChallengeId, Channel, Code, CodeAttempt, CodeSpec, Destination,
    EmailAddress, IdempotencyKey, Locale, Purpose, Reference, SmsBinding, Transaction, Ttl,
};
use crate::guard::{self, SmsRefusal};
use crate::messages::{self, CustomTemplate, MessageInput};
use crate::metrics::MetricEvent;
use crate::ports::{
    ChallengeStore, DeliveryError, IdempotencyClaim, NewChallenge, Notifier, OutgoingMessage,
    QuotaKind, SendAdmission, SendPolicy,
};
use crate::profiles::Profile;

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

/// What the caller learns about a send: never the code, never the full address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    pub id: ChallengeId,
    /// The channel that carried the code: the fallback's when it was used.
    pub channel: Channel,
    pub masked_to: String,
    pub purpose: Purpose,
    pub reference: Option<Reference>,
    pub expires_at: OffsetDateTime,
    pub resend_at: OffsetDateTime,
    pub attempts_remaining: u32,
    /// Why the SMS gave way to the fallback email, when it did.
    pub fell_back: Option<FallbackReason>,
    /// This is the first reply to an earlier request with the same idempotency key, not a new send.
    pub replayed: bool,
}

/// A receipt as an idempotency record keeps it, to replay to a retry.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredReceipt {
    id: String,
    channel: Channel,
    masked_to: String,
    purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    expires_at: i64,
    resend_at: i64,
    attempts_remaining: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fell_back: Option<String>,
}

impl SendReceipt {
    fn to_stored(&self) -> String {
        serde_json::to_string(&StoredReceipt {
            id: self.id.as_str().to_owned(),
            channel: self.channel,
            masked_to: self.masked_to.clone(),
            purpose: self.purpose.as_str().to_owned(),
            reference: self.reference.as_ref().map(|r| r.as_str().to_owned()),
            expires_at: self.expires_at.unix_timestamp(),
            resend_at: self.resend_at.unix_timestamp(),
            attempts_remaining: self.attempts_remaining,
            fell_back: self.fell_back.map(|reason| reason.as_str().to_owned()),
        })
        .expect("a receipt of strings and numbers serializes")
    }

    fn from_stored(stored: &str) -> anyhow::Result<Self> {
        let stored: StoredReceipt =
            serde_json::from_str(stored).context("reading a stored receipt")?;
        let time = |seconds| {
            OffsetDateTime::from_unix_timestamp(seconds).context("a stored receipt's time")
        };
        Ok(Self {
            id: ChallengeId::parse(&stored.id).context("a stored receipt's id")?,
            channel: stored.channel,
            masked_to: stored.masked_to,
            purpose: Purpose::parse(&stored.purpose).context("a stored receipt's purpose")?,
            reference: stored
                .reference
                .as_deref()
                .map(Reference::parse)
                .transpose()
                .context("a stored receipt's reference")?,
            expires_at: time(stored.expires_at)?,
            resend_at: time(stored.resend_at)?,
            attempts_remaining: stored.attempts_remaining,
            fell_back: stored
                .fell_back
                .as_deref()
                .map(|reason| {
                    FallbackReason::ALL
                        .into_iter()
                        .find(|r| r.as_str() == reason)
                        .context("a stored receipt's fallback reason")
                })
                .transpose()?,
            replayed: true,
        })
    }
}

/// Why an SMS send went to the fallback address instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackReason {
    CountryNotAllowed,
    LineTypeNotAllowed,
    CountryLimit,
    GlobalLimit,
    BudgetExhausted,
    DeliveryFailed,
}

impl FallbackReason {
    const ALL: [Self; 6] = [
        Self::CountryNotAllowed,
        Self::LineTypeNotAllowed,
        Self::CountryLimit,
        Self::GlobalLimit,
        Self::BudgetExhausted,
        Self::DeliveryFailed,
    ];

    /// The problem type the SMS would have been refused with.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CountryNotAllowed => "sms-country-not-allowed",
            Self::LineTypeNotAllowed => "sms-number-type-not-allowed",
            Self::CountryLimit => "country-send-limit",
            Self::GlobalLimit => "global-sms-limit",
            Self::BudgetExhausted => "sms-budget-exhausted",
            Self::DeliveryFailed => "delivery-failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("a code was sent to this destination for this purpose moments ago")]
    CoolingDown { retry_after: Duration },
    #[error("this destination has been sent the most codes allowed for now")]
    CapReached { retry_after: Duration },
    #[error("{}", over_quota_detail(*.kind))]
    OverQuota {
        kind: QuotaKind,
        retry_after: Duration,
    },
    #[error(
        "too many wrong codes were tried for this destination from here; try again after the time in Retry-After"
    )]
    LockedOut {
        retry_after: Duration,
        until: OffsetDateTime,
    },
    #[error("{}", sms_refusal_detail(*.0))]
    SmsRefused(SmsRefusal),
    /// The rendered SMS takes more than one segment: refused before anything is recorded or sent.
    /// Profiles and server sends are checked at their longest before they get here; this is the
    /// last line of defence.
    #[error(
        "the SMS text needs {segments} segments; it must fit one: shorten the template or the brand"
    )]
    SmsTooLong { segments: usize },
    #[error("a send with this Idempotency-Key is still under way; retry shortly")]
    IdempotencyKeyInUse { retry_after: Duration },
    #[error(
        "this Idempotency-Key was used for a different request; use a new key for a new request"
    )]
    IdempotencyKeyReused,
    #[error(transparent)]
    BotCheck(#[from] BotCheckError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

fn over_quota_detail(kind: QuotaKind) -> &'static str {
    match kind {
        QuotaKind::ClientAddress => {
            "this client address has requested the most codes allowed this hour"
        }
        QuotaKind::Country => "the most SMS allowed to this country this hour have been sent",
        QuotaKind::Global => "the most SMS allowed this hour have been sent",
        QuotaKind::SmsBudget => "today's SMS budget is spent; SMS resumes at midnight UTC",
        QuotaKind::EmailGlobal => "the most emails allowed this hour have been sent",
    }
}

fn sms_refusal_detail(refusal: SmsRefusal) -> String {
    match refusal {
        SmsRefusal::CountryNotAllowed => {
            "SMS is not sent to this number's country; ask the operator to allow it, or use email"
                .to_owned()
        }
        SmsRefusal::LineTypeNotAllowed(line) => format!(
            "SMS is only sent to mobile numbers; this is a {} number",
            line.as_str()
        ),
    }
}

/// Why a bot check did not let a send through.
#[derive(Debug, thiserror::Error)]
pub enum BotCheckError {
    /// No token, a token the provider refused (forged, expired, used before), or one solved on a
    /// host the profile does not list.
    #[error(
        "the bot check failed: solve the challenge again and send its new token as `captcha_token`"
    )]
    Failed,
    /// The provider gave no verdict, and the profile fails closed.
    #[error("the bot-check provider did not answer; try again after the time in Retry-After")]
    Unavailable(#[source] crate::ports::BotCheckUnavailable),
}

impl SendError {
    /// The problem type of a refusal (not of a failure), as metrics name it.
    pub fn refusal_reason(&self) -> Option<&'static str> {
        Some(match self {
            SendError::CoolingDown { .. } => "resend-cooldown",
            SendError::CapReached { .. } => "destination-send-limit",
            SendError::LockedOut { .. } => "destination-locked",
            SendError::OverQuota { kind, .. } => match kind {
                QuotaKind::ClientAddress => "client-send-limit",
                QuotaKind::Country => "country-send-limit",
                QuotaKind::Global => "global-sms-limit",
                QuotaKind::SmsBudget => "sms-budget-exhausted",
                QuotaKind::EmailGlobal => "global-email-limit",
            },
            SendError::SmsRefused(SmsRefusal::CountryNotAllowed) => "sms-country-not-allowed",
            SendError::SmsRefused(SmsRefusal::LineTypeNotAllowed(_)) => {
                "sms-number-type-not-allowed"
            }
            SendError::SmsTooLong { .. } => "sms-too-long",
            SendError::BotCheck(BotCheckError::Failed) => "captcha-failed",
            SendError::BotCheck(BotCheckError::Unavailable(_))
            | SendError::IdempotencyKeyInUse { .. }
            | SendError::IdempotencyKeyReused
            | SendError::Delivery(_)
            | SendError::Unexpected(_) => return None,
        })
    }

    /// The reason an SMS gives way to a fallback address, if this refusal is one.
    fn fallback_reason(&self) -> Option<FallbackReason> {
        Some(match self {
            SendError::SmsRefused(SmsRefusal::CountryNotAllowed) => {
                FallbackReason::CountryNotAllowed
            }
            SendError::SmsRefused(SmsRefusal::LineTypeNotAllowed(_)) => {
                FallbackReason::LineTypeNotAllowed
            }
            SendError::OverQuota { kind, .. } => match kind {
                QuotaKind::Country => FallbackReason::CountryLimit,
                QuotaKind::Global => FallbackReason::GlobalLimit,
                QuotaKind::SmsBudget => FallbackReason::BudgetExhausted,
                // The client's own limit counts every channel; the email limit is the fallback's
                // own.
                QuotaKind::ClientAddress | QuotaKind::EmailGlobal => return None,
            },
            SendError::Delivery(e) if e.channel == Channel::Sms => FallbackReason::DeliveryFailed,
            _ => return None,
        })
    }
}

/// The message carrying `code` to `channel`, in the request's words.
fn render(request: &SendRequest, channel: Channel, code: &Code) -> messages::RenderedMessage {
    messages::render(
        channel,
        MessageInput {
            code,
            brand: request.brand.as_ref(),
            ttl: request.ttl,
            purpose: &request.purpose,
            locale: &request.locale,
            template: request.message_template(channel),
            sms_binding: Some(&request.sms_binding).filter(|b| !b.is_empty()),
            transaction: request.transaction.as_ref(),
        },
    )
}

/// A send to a test destination is recorded under this policy: no cooldown, no cap.
const TEST_DESTINATION_POLICY: SendPolicy = SendPolicy {
    resend_cooldown: Duration::ZERO,
    max_sends: u32::MAX,
    window: Duration::from_secs(1),
};

impl<S: ChallengeStore, N: Notifier> Otp<S, N> {
    /// Issues a code: checks the SMS rules, records it (subject to the resend cooldown, the
    /// per-destination cap and the quotas), then delivers it. A code whose delivery fails is
    /// withdrawn, but the send still counts. An SMS refused by an SMS rule, or failing at the
    /// provider, goes to the fallback email address instead when the request gives one.
    #[tracing::instrument(
        name = "send",
        skip_all,
        fields(channel = %request.destination.channel(), to = %request.destination.masked(), purpose = request.purpose.as_str(), client = request.client.map(tracing::field::display), id)
    )]
    pub async fn send(&self, request: SendRequest) -> Result<SendReceipt, SendError> {
        // First of all: a send the bot check refuses claims, stores and sends nothing.
        self.check_bot(&request).await?;
        let Some(idempotency) = &request.idempotency else {
            return self.send_with_fallback(&request).await;
        };
        let now = self.clock.now();
        // Scoped to the caller and the destination: a key guessed or reused by anyone else, or for
        // another destination, is a new request, never a replay of someone else's reply.
        let caller = match &idempotency.caller {
            Caller::Server(principal) => format!("server:{principal}"),
            Caller::Public => match request.client {
                Some(address) => format!(
                    "public:{}",
                    self.keys.client_key(&guard::client_network(address))
                ),
                None => "public:".to_owned(),
            },
        };
        let scope = [
            caller.as_bytes(),
            &[0],
            self.keys
                .destination_key(&request.destination.recipient())
                .as_str()
                .as_bytes(),
        ]
        .concat();
        let record =
            self.keys
                .idempotent_send(idempotency.key.as_str(), &scope, &idempotency.request);
        // A fresh random id names this claim: only it may settle the key.
        let holder = ChallengeId::generate(self.randomness.as_ref());
        let claim = self
            .store
            .claim_idempotency(&record, &holder, now, now + IDEMPOTENCY_LEASE)
            .await
            .context("claiming the idempotency key")?;
        match claim {
            IdempotencyClaim::Claimed => {}
            IdempotencyClaim::Completed { reply } => {
                tracing::info!(
                    "replayed the reply of an earlier send with the same idempotency key"
                );
                return Ok(SendReceipt::from_stored(&reply)?);
            }
            IdempotencyClaim::InProgress { retry_at } => {
                return Err(SendError::IdempotencyKeyInUse {
                    retry_after: until(now, retry_at),
                });
            }
            IdempotencyClaim::Mismatch => return Err(SendError::IdempotencyKeyReused),
        }
        let result = self.send_with_fallback(&request).await;
        // Only a send that went out is replayed; after a refusal or a failure nothing was delivered
        // (a failed code is withdrawn), so a retry is decided afresh.
        let reply = result.as_ref().ok().map(SendReceipt::to_stored);
        if let Err(error) = self
            .store
            .settle_idempotency(&record, &holder, reply.as_deref(), now + IDEMPOTENCY_WINDOW)
            .await
        {
            // The send's own outcome stands; a retry after the lease would be decided afresh.
            tracing::error!(error = ?error, "could not settle an idempotency key");
        }
        result
    }

    async fn send_with_fallback(&self, request: &SendRequest) -> Result<SendReceipt, SendError> {
        let first = self.send_to(request, &request.destination, true).await;
        self.count_refusal(&first);
        let (Err(refusal), Some(fallback)) = (&first, &request.fallback) else {
            return first;
        };
        let Some(reason) = refusal.fallback_reason() else {
            return first;
        };
        self.metrics.record(&MetricEvent::FallbackUsed {
            reason: reason.as_str(),
        });
        tracing::info!(
            reason = reason.as_str(),
            fallback_to = %fallback.masked(),
            "SMS refused; sending by email instead"
        );
        // A failed SMS was charged to the client's quota already; a refused one was not.
        let charge_client = reason != FallbackReason::DeliveryFailed;
        let destination = Destination::Email(fallback.clone());
        let second = self.send_to(request, &destination, charge_client).await;
        self.count_refusal(&second);
        let mut receipt = second?;
        receipt.fell_back = Some(reason);
        Ok(receipt)
    }

    fn count_refusal(&self, result: &Result<SendReceipt, SendError>) {
        if let Some(reason) = result.as_ref().err().and_then(SendError::refusal_reason) {
            self.metrics.record(&MetricEvent::SendRefused { reason });
        }
    }

    async fn send_to(
        &self,
        request: &SendRequest,
        destination: &Destination,
        charge_client: bool,
    ) -> Result<SendReceipt, SendError> {
        let now = self.clock.now();
        let id = ChallengeId::generate(self.randomness.as_ref());
        tracing::Span::current().record("id", id.as_str());
        let channel = destination.channel();
        let masked_to = destination.masked();

        // The profile's own test destinations, then the service's (`OTP_TEST_DESTINATIONS`).
        let test_code = request
            .profile
            .test_destinations
            .code_for(destination)
            .or_else(|| self.settings.test_destinations.code_for(destination));
        let client = request
            .client
            .filter(|_| charge_client)
            .map(|address| self.keys.client_key(&guard::client_network(address)));
        // A test destination gets no message; any other's is rendered before anything is recorded,
        // so an SMS is charged for the segments it takes, and one too long is refused unsent.
        let (code, policy, quotas, rendered, sms_segments) = match test_code {
            // No message, so no SMS rule or spend; but the asking client's quota, and the guess
            // budget of the destination (kept by the store), as for any other.
            Some(fixed) => (
                Code::fixed(CodeAttempt::parse(fixed).context("a configured test code")?),
                TEST_DESTINATION_POLICY,
                guard::client_quota(&self.settings.limits, client.as_deref(), now)
                    .into_iter()
                    .collect(),
                None,
                0,
            ),
            None => {
                if let Destination::Sms(number) = destination {
                    self.settings
                        .sms
                        .admits(number)
                        .map_err(SendError::SmsRefused)?;
                }
                let code = Code::generate(request.spec, self.randomness.as_ref());
                let rendered = render(request, channel, &code);
                let sms_segments = match destination {
                    Destination::Sms(_) => {
                        let size = messages::sms_size(&rendered.text);
                        // `render` has logged the segments and whether the text was custom.
                        if !size.fits() {
                            return Err(SendError::SmsTooLong {
                                segments: size.segments,
                            });
                        }
                        size.segments
                    }
                    Destination::Email(_) => 0,
                };
                let quotas = guard::quotas(
                    &self.settings.limits,
                    &self.settings.sms,
                    destination,
                    sms_segments,
                    client.as_deref(),
                    now,
                );
                (
                    code,
                    self.settings.send_policy,
                    quotas,
                    Some(rendered),
                    sms_segments,
                )
            }
        };
        let expires_at = now + request.ttl.duration();

        let admission = self
            .store
            .begin(
                NewChallenge {
                    id: id.clone(),
                    destination: self.keys.destination_key(&destination.recipient()),
                    purpose: request.purpose.clone(),
                    code_hash: self.keys.code_hash(id.as_str(), code.expose()),
                    channel,
                    masked_to: masked_to.clone(),
                    sealed_to: self.keys.destination_sealer().seal_bytes(
                        id.as_str().as_bytes(),
                        destination.address().as_bytes(),
                        self.randomness.as_ref(),
                    ),
                    reference: request.reference.clone(),
                    profile: request.profile.name.clone(),
                    transaction: request.transaction.clone(),
                    created_at: now,
                    expires_at,
                    max_attempts: request.profile.max_attempts,
                    guess_budget: request.profile.guess_budget,
                    network: self.network_of(&request.requester),
                },
                policy,
                &quotas,
            )
            .await
            .context("recording the send")?;
        let resend_at = match admission {
            SendAdmission::Admitted { resend_at } => resend_at,
            SendAdmission::CoolingDown { retry_at } => {
                tracing::info!("refused: resend cooldown");
                return Err(SendError::CoolingDown {
                    retry_after: until(now, retry_at),
                });
            }
            SendAdmission::CapReached { retry_at } => {
                tracing::info!("refused: destination send cap reached");
                return Err(SendError::CapReached {
                    retry_after: until(now, retry_at),
                });
            }
            SendAdmission::LockedOut {
                until: locked_until,
            } => {
                tracing::info!("refused: this network is locked out of the destination");
                return Err(SendError::LockedOut {
                    retry_after: until(now, locked_until),
                    until: locked_until,
                });
            }
            SendAdmission::OverQuota { kind, retry_at } => {
                tracing::info!(quota = ?kind, "refused: over quota");
                return Err(SendError::OverQuota {
                    kind,
                    retry_after: until(now, retry_at),
                });
            }
        };
        let receipt = SendReceipt {
            id,
            channel,
            masked_to,
            purpose: request.purpose.clone(),
            reference: request.reference.clone(),
            expires_at,
            resend_at,
            attempts_remaining: request.profile.max_attempts,
            fell_back: None,
            replayed: false,
        };
        if let Destination::Sms(number) = destination
            && test_code.is_none()
        {
            self.metrics.record(&MetricEvent::SmsSpend {
                amount: self.settings.sms.charge(number, sms_segments).as_f64(),
                budget: self.settings.sms.daily_budget.as_f64(),
                segments: u64::try_from(sms_segments).unwrap_or(u64::MAX),
            });
        }
        let Some(rendered) = rendered else {
            self.metrics.record(&MetricEvent::TestDestinationSend);
            tracing::warn!(
                audit = "test_destination_send",
                to = %receipt.masked_to,
                profile = request.profile.name.as_str(),
                "audit: a test destination was issued its fixed code; nothing was delivered"
            );
            return Ok(receipt);
        };

        let message = OutgoingMessage {
            channel,
            to: destination.address().to_owned(),
            masked_to: receipt.masked_to.clone(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        };
        let delivered = match self.notifier.deliver(&message).await {
            Ok(delivered) => delivered,
            Err(error) => {
                tracing::warn!(error = %error, cause = %error.source, "delivery failed; withdrawing the code");
                self.metrics
                    .record(&MetricEvent::DeliveryFailed { channel });
                if let Err(withdraw) = self.store.withdraw(&receipt.id, now).await {
                    // The code was never seen by anyone, so it is unusable in practice; still worth an alarm.
                    tracing::error!(error = ?withdraw, "could not withdraw an undelivered code");
                }
                return Err(SendError::Delivery(error));
            }
        };
        tracing::info!(message_id = delivered.message_id.as_deref(), channel = %channel, "code sent");
        self.metrics.record(&MetricEvent::CodeSent {
            channel,
            country: match destination {
                Destination::Sms(number) => number.region().map(|r| r.as_str().to_owned()),
                Destination::Email(_) => None,
            },
        });
        Ok(receipt)
    }
}

#[cfg(test)]
#[path = "send_tests.rs"]
mod tests;

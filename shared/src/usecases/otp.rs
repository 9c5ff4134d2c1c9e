//! The service object the use cases are methods of: its ports, keys and settings.

use std::sync::Arc;

use crate::domain::NetworkKey;

use crate::crypto::{Keys, Randomness, SecretNeed};
use crate::metrics::{Metrics, NoMetrics};
use crate::ports::{BotCheck, Clock};
use crate::proof::ProofSigner;
use crate::settings::Settings;

/// The OTP service: its ports, keys and settings, built once per process.
pub struct Otp<S, N> {
    pub(super) store: S,
    pub(super) notifier: N,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) randomness: Arc<dyn Randomness>,
    pub(super) keys: Keys,
    pub(super) settings: Settings,
    /// `None` in a function given no proof-signing secret (send, enroll), which signs nothing.
    pub(super) proof: Option<ProofSigner>,
    pub(super) metrics: Arc<dyn Metrics>,
    /// Asks the provider about a public send's `captcha_token`; `None` until configured.
    pub(super) bot_check: Option<Arc<dyn BotCheck>>,
}

impl<S, N> Otp<S, N> {
    pub fn new(
        store: S,
        notifier: N,
        clock: Arc<dyn Clock>,
        randomness: Arc<dyn Randomness>,
        keys: Keys,
        settings: Settings,
    ) -> Self {
        // Deriving the Ed25519 key costs microseconds: fine at cold start.
        let proof = keys
            .has(SecretNeed::Proofs)
            .then(|| ProofSigner::new(&keys, settings.proof.clone()));
        Self {
            store,
            notifier,
            clock,
            randomness,
            keys,
            settings,
            proof,
            metrics: Arc::new(NoMetrics),
            bot_check: None,
        }
    }

    /// Reports what happens (codes sent, approved, refusals, spend…) to `metrics`; by default
    /// nothing is reported.
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Checks the `captcha_token` of public sends under a profile with a bot check with
    /// `bot_check`; without one such a send fails (500), so a deployment whose profiles need it
    /// must configure it (the Lambdas and otp-local refuse to start otherwise).
    pub fn with_bot_check(mut self, bot_check: Arc<dyn BotCheck>) -> Self {
        self.bot_check = Some(bot_check);
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn notifier(&self) -> &N {
        &self.notifier
    }

    /// The signer of proof tokens, and the keys it publishes.
    pub fn proof(&self) -> &ProofSigner {
        self.proof.as_ref().expect(
            "a function that signs proofs holds the proof-signing secret (checked at start-up)",
        )
    }
}

/// Who is asking, as far as per-network limits (the guess budget) are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// A browser on a public route, from its client address (when the platform gave one).
    Browser(Option<std::net::IpAddr>),
    /// The app's backend on a server route: its principal stands for its network.
    Server(String),
}

impl<S, N> Otp<S, N> {
    /// The pseudonym the guess budget counts `requester` under.
    pub(super) fn network_of(&self, requester: &Requester) -> NetworkKey {
        let key = match requester {
            Requester::Browser(Some(address)) => self
                .keys
                .client_key(&crate::abuse::client_network(*address)),
            Requester::Browser(None) => self.keys.server_key(""),
            Requester::Server(principal) => self.keys.server_key(principal),
        };
        NetworkKey::parse(&key).expect("a keyed hash in lower-case hex")
    }
}

/// Whole seconds from `now` until `then`, at least one: what a `Retry-After` header says.
pub(super) fn until(now: time::OffsetDateTime, then: time::OffsetDateTime) -> std::time::Duration {
    let seconds = (then - now).as_seconds_f64().ceil().max(1.0);
    std::time::Duration::from_secs(seconds as u64)
}

//! What a deployment tunes, as the use cases read it. [`crate::config`] reads it from the
//! environment.

use std::time::Duration;

use crate::abuse::{SmsRules, TestDestinations, VelocityLimits, VoiceRules};
use crate::domain::{CodeSpec, GuessBudget, Locale, SendPolicy, Ttl};
use crate::profiles::{Profile, Profiles};
use crate::proof::ProofSettings;

/// The behaviour a deployment can tune.
#[derive(Debug, Clone)]
pub struct Settings {
    pub send_policy: SendPolicy,
    /// The operator's profiles: the built-in `default` (from the `OTP_DEFAULT_*` variables) and the
    /// repository's `profiles.json`.
    pub profiles: Profiles,
    /// When wrong authenticator or recovery codes lock a network, or everyone, out of a user's TOTP:
    /// the same rule and bounds as a destination's guess budget.
    pub totp_guess_budget: GuessBudget,
    /// The proof tokens approvals carry.
    pub proof: ProofSettings,
    /// Sends per client address, SMS per country and in all, per hour.
    pub limits: VelocityLimits,
    /// Where SMS may go, what it costs, and the daily budget.
    pub sms: SmsRules,
    /// Where calls may go, what a minute costs (against the SMS budget), how often a call says
    /// the code.
    pub voice: VoiceRules,
    /// Destinations with fixed codes and no delivery; none unless configured.
    pub test_destinations: TestDestinations,
    /// The CloudWatch namespace of the functions' metrics.
    pub metrics_namespace: String,
}

/// The CloudWatch namespace of the metrics when `OTP_METRICS_NAMESPACE` is not set.
pub const DEFAULT_METRICS_NAMESPACE: &str = "OtpLambda";

impl Default for Settings {
    fn default() -> Self {
        Self {
            send_policy: SendPolicy {
                resend_cooldown: Duration::from_secs(30),
                max_sends: 5,
                window: Duration::from_secs(15 * 60),
            },
            profiles: Profiles::only(Profile::builtin(
                CodeSpec::default(),
                Ttl::default(),
                5,
                None,
                Locale::default(),
            )),
            totp_guess_budget: GuessBudget::default(),
            proof: ProofSettings::default(),
            limits: VelocityLimits::default(),
            sms: SmsRules::default(),
            voice: VoiceRules::default(),
            test_destinations: TestDestinations::default(),
            metrics_namespace: DEFAULT_METRICS_NAMESPACE.to_owned(),
        }
    }
}

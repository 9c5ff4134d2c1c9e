//! Checking an authenticator code (each time step once) or a recovery code, wrong ones counted
//! against the guess budget per client network; an approval signs a proof.

use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;

use super::TotpError;
use crate::domain::{ChallengeId, CodeAttempt, GuessLock, NetworkKey, UserId};
use crate::metrics::MetricEvent;
use crate::ports::{Enrollment, FailureOutcome, RecoveryOutcome, StepOutcome, TotpStore};
use crate::proof::{Proof, ProofSubject};
use crate::totp::Authenticator;
use crate::usecases::otp::{Otp, Requester, until};

/// What a user offers as proof.
#[derive(Debug)]
pub enum TotpProof {
    /// The code the authenticator app shows now.
    Code(CodeAttempt),
    /// One of the recovery codes shown at enrolment.
    RecoveryCode(CodeAttempt),
}

impl TotpProof {
    /// The `method` word of the verify reply.
    pub fn method(&self) -> &'static str {
        match self {
            TotpProof::Code(_) => "totp",
            TotpProof::RecoveryCode(_) => "recovery_code",
        }
    }
}

#[derive(Debug)]
pub struct TotpVerifyRequest {
    pub user_id: UserId,
    pub proof: TotpProof,
    /// Set for a verify under a challenge: the enrolment it was issued against. A challenge does
    /// not carry over to an enrolment that replaced that one.
    pub enrollment_id: Option<String>,
    /// Who asks: wrong codes count against the user per client network (or backend principal).
    pub requester: Requester,
}

/// The outcome of a TOTP or recovery-code verify, in the core verify vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotpOutcome {
    Approved {
        /// This code confirmed a pending enrolment.
        activated: bool,
        /// After a recovery code: how many are left.
        recovery_codes_remaining: Option<u32>,
        /// The signed proof of this approval.
        token: String,
    },
    Incorrect {
        attempts_remaining: u32,
    },
    /// A time step already accepted (or older than one that was): `consumed`.
    Replayed,
    Locked {
        until: OffsetDateTime,
        retry_after: Duration,
    },
    /// No enrolment, a lapsed one, or one removed or replaced meanwhile.
    NotFound,
}

impl TotpOutcome {
    pub fn status(&self) -> &'static str {
        match self {
            TotpOutcome::Approved { .. } => "approved",
            TotpOutcome::Incorrect { .. } => "incorrect",
            TotpOutcome::Replayed => "consumed",
            TotpOutcome::Locked { .. } => "locked",
            TotpOutcome::NotFound => "not_found",
        }
    }
}

impl<S: TotpStore, N> Otp<S, N> {
    /// Checks an authenticator code or a recovery code: one read, then one conditional write.
    #[tracing::instrument(name = "totp_verify", skip_all, fields(enrollment, method, status))]
    pub async fn verify_totp(&self, request: TotpVerifyRequest) -> Result<TotpOutcome, TotpError> {
        let now = self.clock.now();
        let user = &request.user_id;
        let span = tracing::Span::current();
        let enrollment = self
            .store
            .enrollment(user, now)
            .await
            .context("reading the enrolment")?;
        let outcome = match enrollment {
            None => TotpOutcome::NotFound,
            Some(enrollment)
                if request
                    .enrollment_id
                    .as_ref()
                    .is_some_and(|id| *id != enrollment.enrollment_id) =>
            {
                TotpOutcome::NotFound
            }
            Some(enrollment) => {
                span.record("enrollment", enrollment.enrollment_id.as_str());
                let network = self.network_of(&request.requester);
                match &request.proof {
                    TotpProof::Code(code) => {
                        span.record("method", "totp");
                        self.check_code(&enrollment, code, &network, now).await?
                    }
                    TotpProof::RecoveryCode(code) => {
                        span.record("method", "recovery_code");
                        self.use_recovery_code(&enrollment, code, &network, now)
                            .await?
                    }
                }
            }
        };
        span.record("status", outcome.status());
        let event = match &outcome {
            TotpOutcome::Approved { .. } => Some(MetricEvent::TotpApproved),
            TotpOutcome::Incorrect { .. } => Some(MetricEvent::TotpIncorrect),
            TotpOutcome::Replayed => Some(MetricEvent::TotpReplayRefused),
            TotpOutcome::Locked { .. } => Some(MetricEvent::TotpLocked),
            TotpOutcome::NotFound => None,
        };
        if let Some(event) = event {
            self.metrics.record(&event);
        }
        tracing::info!("verified");
        Ok(outcome)
    }

    async fn check_code(
        &self,
        enrollment: &Enrollment,
        code: &CodeAttempt,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Result<TotpOutcome, TotpError> {
        let budget = &self.settings.totp_guess_budget;
        let user = &enrollment.user_id;
        let secret = self
            .keys
            .totp_sealer()
            .open(user.as_str(), &enrollment.sealed_secret)
            .context("opening the stored TOTP secret")?;
        let authenticator = Authenticator::for_checking(&secret, enrollment.params);
        let unix_now = u64::try_from(now.unix_timestamp()).context("the clock is before 1970")?;
        let outcome = match authenticator.matching_step(code.expose(), unix_now) {
            Some(step) => match self
                .store
                .accept_step(enrollment, step, network, budget, now)
                .await
                .context("recording the accepted step")?
            {
                StepOutcome::Accepted => TotpOutcome::Approved {
                    activated: !enrollment.is_active(),
                    recovery_codes_remaining: None,
                    token: self.user_proof(user, "totp", now),
                },
                StepOutcome::Replayed => TotpOutcome::Replayed,
                StepOutcome::Locked { until: end } => locked(now, end),
                StepOutcome::Gone => TotpOutcome::NotFound,
            },
            None => self.count_failure(enrollment, network, now).await?,
        };
        Ok(outcome)
    }

    async fn use_recovery_code(
        &self,
        enrollment: &Enrollment,
        code: &CodeAttempt,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Result<TotpOutcome, TotpError> {
        let budget = &self.settings.totp_guess_budget;
        let user = &enrollment.user_id;
        let hash = self.keys.recovery_code_hash(user.as_str(), code.expose());
        let outcome = match self
            .store
            .use_recovery_code(enrollment, &hash, network, budget, now)
            .await
            .context("using the recovery code")?
        {
            RecoveryOutcome::Accepted { remaining } => {
                if remaining == 0 {
                    tracing::warn!("the last recovery code was used; the user should re-enrol");
                }
                TotpOutcome::Approved {
                    activated: false,
                    recovery_codes_remaining: Some(remaining),
                    token: self.user_proof(user, "recovery_code", now),
                }
            }
            RecoveryOutcome::Unknown => self.count_failure(enrollment, network, now).await?,
            RecoveryOutcome::Locked { until: end } => locked(now, end),
            RecoveryOutcome::Gone => TotpOutcome::NotFound,
        };
        Ok(outcome)
    }

    /// The proof token of an approval for `user`, under a fresh id.
    fn user_proof(&self, user: &UserId, method: &'static str, now: OffsetDateTime) -> String {
        let jti = ChallengeId::generate(self.randomness.as_ref());
        self.proof().sign(
            &Proof {
                jti: jti.as_str(),
                subject: ProofSubject::User(user.as_str()),
                method,
                purpose: None,
                reference: None,
                transaction: None,
                audience: None,
            },
            now,
        )
    }

    async fn count_failure(
        &self,
        enrollment: &Enrollment,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Result<TotpOutcome, TotpError> {
        let outcome = self
            .store
            .count_failure(enrollment, network, &self.settings.totp_guess_budget, now)
            .await
            .context("counting a wrong code")?;
        Ok(match outcome {
            FailureOutcome::Counted { attempts_remaining } => {
                TotpOutcome::Incorrect { attempts_remaining }
            }
            FailureOutcome::LockStarted(lock) => {
                let everyone = matches!(lock, GuessLock::Destination { .. });
                self.metrics.record(&MetricEvent::GuessLock { everyone });
                tracing::warn!(
                    until = %lock.until(),
                    everyone,
                    "too many wrong codes: TOTP locked"
                );
                locked(now, lock.until())
            }
            FailureOutcome::Locked { until: end } => locked(now, end),
            FailureOutcome::Gone => TotpOutcome::NotFound,
        })
    }
}

fn locked(now: OffsetDateTime, end: OffsetDateTime) -> TotpOutcome {
    TotpOutcome::Locked {
        until: end,
        retry_after: until(now, end),
    }
}

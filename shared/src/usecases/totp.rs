//! Authenticator apps: enrol, check a code (each time step once), use a recovery code, read and
//! remove an enrolment. User ids may be email addresses, so they are never logged; the random
//! enrolment id is.

use std::time::Duration;

use anyhow::Context as _;

use crate::metrics::MetricEvent;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Otp, Requester, until};
use crate::crypto::TotpSecret;
use crate::domain::{ChallengeId, CodeAttempt, GuessLock, GuessRecord, NetworkKey, UserId};
use crate::ports::{
    EnrollAdmission, Enrollment, FailureOutcome, RecoveryOutcome, StepOutcome, TotpStore,
};
use crate::proof::{Proof, ProofSubject};
use crate::totp::{self, Authenticator, TotpLabel, TotpParams, generate_recovery_codes};

/// A pending enrolment must be confirmed with a code within this time, or it lapses.
pub const PENDING_FOR: Duration = Duration::from_secs(15 * 60);

/// An enrolment, fully parsed.
#[derive(Debug)]
pub struct EnrollRequest {
    pub user_id: UserId,
    pub issuer: TotpLabel,
    pub account: TotpLabel,
    pub params: TotpParams,
    /// Replace an active enrolment (a pending one is always replaced).
    pub replace: bool,
}

/// What the enrolling user is shown, once: the secret in every form an app takes, and the recovery
/// codes. None of it is kept in the clear.
pub struct NewEnrollment {
    pub user_id: UserId,
    pub secret: Zeroizing<String>,
    pub otpauth_uri: Zeroizing<String>,
    pub qr_svg: String,
    pub qr_png: String,
    pub recovery_codes: Vec<Zeroizing<String>>,
    pub params: TotpParams,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error(
        "this user has an active authenticator; send \"replace\": true to replace it (the old one stops working at once)"
    )]
    ActiveExists,
    #[error("this user has no authenticator enrolled")]
    NotEnrolled,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

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

/// What an opened challenge names.
#[derive(Debug, Clone)]
pub struct OpenedChallenge {
    pub user_id: UserId,
    pub enrollment_id: String,
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

/// How long a TOTP challenge may be used: long enough to open the app and type a code.
pub const CHALLENGE_FOR: Duration = Duration::from_secs(5 * 60);

/// A challenge the backend issued for a user who passed the first factor: the browser sends it
/// with the code instead of a user id, so a stranger cannot ask about, or lock out, any user.
#[derive(Debug, Clone)]
pub struct TotpChallenge {
    pub challenge_id: String,
    pub user_id: UserId,
    pub expires_at: OffsetDateTime,
}

/// Why a challenge id was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeRefusal {
    /// Not a challenge this service issued (or altered).
    Invalid,
    Expired,
}

/// The associated data of every sealed challenge: a sealed value of another kind does not open.
const CHALLENGE_AAD: &[u8] = b"totp-challenge";

/// An enrolment as `GET /v1/server/totp/enroll/{user_id}` shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentStatus {
    pub active: bool,
    pub params: TotpParams,
    pub created_at: OffsetDateTime,
    /// While pending: when it lapses.
    pub expires_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub recovery_codes_remaining: u32,
    /// Until when the user is locked out for everyone (the day's guess budget is spent).
    pub locked_until: Option<OffsetDateTime>,
    /// How many client networks are locked out of this user now.
    pub locked_networks: u32,
}

impl<S, N> Otp<S, N> {
    /// The user a challenge was issued for and the enrolment it was issued against, if it is one of
    /// ours and still live. No store access.
    pub fn open_totp_challenge(
        &self,
        challenge_id: &str,
    ) -> Result<OpenedChallenge, ChallengeRefusal> {
        let bytes = data_encoding::BASE64URL_NOPAD
            .decode(challenge_id.as_bytes())
            .map_err(|_| ChallengeRefusal::Invalid)?;
        let plain = self
            .keys
            .totp_challenge_sealer()
            .open_compact(CHALLENGE_AAD, &bytes)
            .map_err(|_| ChallengeRefusal::Invalid)?;
        if plain.len() < 8 {
            return Err(ChallengeRefusal::Invalid);
        }
        // expiry (8 bytes) ‖ enrolment id length (1) ‖ enrolment id ‖ user id
        let (expiry, rest) = plain.split_at(8);
        let expires_at = i64::from_be_bytes(expiry.try_into().expect("8 bytes"));
        let (&id_len, rest) = rest.split_first().ok_or(ChallengeRefusal::Invalid)?;
        if rest.len() < usize::from(id_len) {
            return Err(ChallengeRefusal::Invalid);
        }
        let (enrollment_id, user) = rest.split_at(usize::from(id_len));
        let enrollment_id = std::str::from_utf8(enrollment_id)
            .map_err(|_| ChallengeRefusal::Invalid)?
            .to_owned();
        let user_id = std::str::from_utf8(user)
            .ok()
            .and_then(|u| UserId::parse(u).ok())
            .ok_or(ChallengeRefusal::Invalid)?;
        if self.clock.now().unix_timestamp() >= expires_at {
            return Err(ChallengeRefusal::Expired);
        }
        Ok(OpenedChallenge {
            user_id,
            enrollment_id,
        })
    }
}

impl<S: TotpStore, N> Otp<S, N> {
    /// Issues a challenge for a user with an enrolment (pending or active), for the backend to hand
    /// to the browser that will send the user's code.
    #[tracing::instrument(name = "totp_challenge", skip_all)]
    pub async fn issue_totp_challenge(&self, user_id: UserId) -> Result<TotpChallenge, TotpError> {
        let now = self.clock.now();
        let Some(enrollment) = self
            .store
            .enrollment(&user_id, now)
            .await
            .context("reading the enrolment")?
        else {
            return Err(TotpError::NotEnrolled);
        };
        let expires_at = now + CHALLENGE_FOR;
        let enrollment_id = enrollment.enrollment_id.as_bytes();
        let id_len = u8::try_from(enrollment_id.len()).context("an enrolment id's length")?;
        let mut plain = expires_at.unix_timestamp().to_be_bytes().to_vec();
        plain.push(id_len);
        plain.extend_from_slice(enrollment_id);
        plain.extend_from_slice(user_id.as_str().as_bytes());
        let sealed = self.keys.totp_challenge_sealer().seal_compact(
            CHALLENGE_AAD,
            &plain,
            self.randomness.as_ref(),
        );
        tracing::info!("challenge issued");
        Ok(TotpChallenge {
            challenge_id: data_encoding::BASE64URL_NOPAD.encode(&sealed),
            user_id,
            expires_at,
        })
    }

    /// Registers a new authenticator for a user, pending until its first code is verified.
    #[tracing::instrument(name = "totp_enroll", skip_all, fields(enrollment, replace = request.replace))]
    pub async fn enroll_totp(&self, request: EnrollRequest) -> Result<NewEnrollment, TotpError> {
        let now = self.clock.now();
        let randomness = self.randomness.as_ref();
        let secret = TotpSecret::generate(randomness);
        let authenticator =
            Authenticator::new(&secret, request.params, &request.issuer, &request.account)
                .context("building the authenticator")?;
        let otpauth_uri = authenticator.otpauth_uri();
        let recovery_codes = generate_recovery_codes(randomness);
        let recovery_hashes = recovery_codes
            .iter()
            .map(|code| {
                let typed = CodeAttempt::parse(code).expect("recovery codes parse as typed");
                self.keys
                    .recovery_code_hash(request.user_id.as_str(), typed.expose())
            })
            .collect();
        let enrollment_id = ChallengeId::generate(randomness).as_str().to_owned();
        tracing::Span::current().record("enrollment", enrollment_id.as_str());
        let expires_at = now + PENDING_FOR;
        let enrollment = Enrollment {
            user_id: request.user_id.clone(),
            enrollment_id,
            sealed_secret: self.keys.totp_sealer().seal(
                request.user_id.as_str(),
                &secret,
                randomness,
            ),
            params: request.params,
            created_at: now,
            pending_until: Some(expires_at),
            last_used_at: None,
            last_step: None,
            // A new secret: guesses at the old one say nothing about it.
            guesses: GuessRecord::default(),
            guess_version: 0,
            recovery_hashes,
        };
        match self
            .store
            .enroll(enrollment, request.replace, now)
            .await
            .context("storing the enrolment")?
        {
            EnrollAdmission::Enrolled => tracing::info!("enrolled, pending confirmation"),
            EnrollAdmission::ActiveExists => {
                tracing::info!("refused: an active enrolment exists");
                return Err(TotpError::ActiveExists);
            }
        }
        let qr = totp::qr_images(&otpauth_uri);
        Ok(NewEnrollment {
            user_id: request.user_id,
            secret: secret.base32(),
            qr_svg: qr.svg,
            qr_png: qr.png_data_url,
            otpauth_uri,
            recovery_codes,
            params: request.params,
            expires_at,
        })
    }

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

    /// The enrolment's state, without its secret.
    pub async fn totp_status(&self, user: &UserId) -> Result<EnrollmentStatus, TotpError> {
        let now = self.clock.now();
        let enrollment = self
            .store
            .enrollment(user, now)
            .await
            .context("reading the enrolment")?
            .ok_or(TotpError::NotEnrolled)?;
        Ok(EnrollmentStatus {
            active: enrollment.is_active(),
            params: enrollment.params,
            created_at: enrollment.created_at,
            expires_at: enrollment.pending_until,
            last_used_at: enrollment.last_used_at,
            recovery_codes_remaining: enrollment.recovery_hashes.len() as u32,
            locked_until: enrollment.guesses.locked_until.filter(|until| now < *until),
            locked_networks: enrollment.guesses.active_locks(now).0.len() as u32,
        })
    }

    /// Removes the user's enrolment: its codes and recovery codes stop working at once.
    #[tracing::instrument(name = "totp_remove", skip_all)]
    pub async fn remove_totp(&self, user: &UserId) -> Result<(), TotpError> {
        if self
            .store
            .remove(user)
            .await
            .context("removing the enrolment")?
        {
            tracing::info!("enrolment removed");
            Ok(())
        } else {
            Err(TotpError::NotEnrolled)
        }
    }
}

fn locked(now: OffsetDateTime, end: OffsetDateTime) -> TotpOutcome {
    TotpOutcome::Locked {
        until: end,
        retry_after: until(now, end),
    }
}

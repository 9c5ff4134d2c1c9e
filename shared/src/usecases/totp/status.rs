//! An enrolment as the backend reads it: never the secret.

use anyhow::Context as _;
use time::OffsetDateTime;

use super::TotpError;
use crate::domain::UserId;
use crate::ports::TotpStore;
use crate::totp::TotpParams;
use crate::usecases::otp::Otp;

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

impl<S: TotpStore, N> Otp<S, N> {
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
}

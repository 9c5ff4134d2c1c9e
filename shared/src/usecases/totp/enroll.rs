//! Enrolling a user's authenticator (pending until its first code), and removing it.

use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::TotpError;
use crate::crypto::TotpSecret;
use crate::domain::{ChallengeId, CodeAttempt, GuessRecord, UserId};
use crate::ports::{EnrollAdmission, Enrollment, TotpStore};
use crate::totp::{self, Authenticator, TotpLabel, TotpParams, generate_recovery_codes};
use crate::usecases::otp::Otp;

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

impl<S: TotpStore, N> Otp<S, N> {
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

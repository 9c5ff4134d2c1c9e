//! The challenge a backend issues for a user who passed the first factor: the user id and the
//! enrolment, sealed with an expiry, so a browser can verify a code without naming (or locking out)
//! any user.

use std::time::Duration;

use anyhow::Context as _;
use time::OffsetDateTime;

use super::TotpError;
use crate::domain::UserId;
use crate::ports::TotpStore;
use crate::usecases::otp::Otp;

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

/// What an opened challenge names.
#[derive(Debug, Clone)]
pub struct OpenedChallenge {
    pub user_id: UserId,
    pub enrollment_id: String,
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
}

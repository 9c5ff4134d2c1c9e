use anyhow::Context as _;

use super::Otp;
use crate::domain::{ChallengeId, CodeAttempt};
use crate::ports::{ChallengeStore, Notifier, VerifyOutcome};

/// A verification attempt, fully parsed.
#[derive(Debug)]
pub struct VerifyRequest {
    pub id: ChallengeId,
    pub code: CodeAttempt,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl<S: ChallengeStore, N: Notifier> Otp<S, N> {
    /// Checks a code in one store operation. The hash is computed whatever the id, so an unknown id
    /// costs the same work as a wrong code.
    #[tracing::instrument(name = "verify", skip_all, fields(id = request.id.as_str(), status))]
    pub async fn verify(&self, request: VerifyRequest) -> Result<VerifyOutcome, VerifyError> {
        let now = self.clock.now();
        let candidate = self.keys.code_hash(&request.id, request.code.expose());
        let outcome = self
            .store
            .verify(&request.id, &candidate, now)
            .await
            .context("checking the code in the store")?;
        tracing::Span::current().record("status", outcome.status());
        tracing::info!("verified");
        Ok(outcome)
    }
}

impl VerifyOutcome {
    /// The `status` word of the verify reply.
    pub fn status(&self) -> &'static str {
        match self {
            VerifyOutcome::Approved(_) => "approved",
            VerifyOutcome::Incorrect { .. } => "incorrect",
            VerifyOutcome::Expired => "expired",
            VerifyOutcome::Locked => "locked",
            VerifyOutcome::Consumed => "consumed",
            VerifyOutcome::NotFound => "not_found",
        }
    }
}

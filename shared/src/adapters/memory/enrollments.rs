//! The in-memory TOTP store.

use time::OffsetDateTime;

use crate::crypto::CodeHash;
use crate::domain::{GuessBudget, NetworkKey, UserId};
use crate::ports::{
    EnrollAdmission, Enrollment, FailureOutcome, RecoveryOutcome, StepOutcome, StoreError,
    TotpStore,
};

use super::state::*;

impl TotpStore for MemoryStore {
    async fn enroll(
        &self,
        enrollment: Enrollment,
        replace: bool,
        _now: OffsetDateTime,
    ) -> Result<EnrollAdmission, StoreError> {
        let mut inner = self.lock()?;
        let blocked = inner
            .enrollments
            .get(&enrollment.user_id)
            .is_some_and(|e| !e.gives_way(replace));
        if blocked {
            return Ok(EnrollAdmission::ActiveExists);
        }
        inner
            .enrollments
            .insert(enrollment.user_id.clone(), enrollment);
        Ok(EnrollAdmission::Enrolled)
    }

    async fn enrollment(
        &self,
        user: &UserId,
        now: OffsetDateTime,
    ) -> Result<Option<Enrollment>, StoreError> {
        let inner = self.lock()?;
        Ok(inner
            .enrollments
            .get(user)
            .filter(|e| !e.has_lapsed(now))
            .cloned())
    }

    async fn remove(&self, user: &UserId) -> Result<bool, StoreError> {
        Ok(self.lock()?.enrollments.remove(user).is_some())
    }

    async fn accept_step(
        &self,
        enrollment: &Enrollment,
        step: u64,
        network: &NetworkKey,
        _budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<StepOutcome, StoreError> {
        let mut inner = self.lock()?;
        let Some(e) = inner.live_enrollment(enrollment, now) else {
            return Ok(StepOutcome::Gone);
        };
        if let Some(until) = e.guesses.locked_until(network, now) {
            return Ok(StepOutcome::Locked { until });
        }
        if e.last_step.is_some_and(|last| step <= last) {
            return Ok(StepOutcome::Replayed);
        }
        e.last_step = Some(step);
        e.guesses.succeed(network);
        e.guesses.prune(now);
        e.guess_version += 1;
        e.pending_until = None;
        e.last_used_at = Some(now);
        Ok(StepOutcome::Accepted)
    }

    async fn count_failure(
        &self,
        enrollment: &Enrollment,
        network: &NetworkKey,
        budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<FailureOutcome, StoreError> {
        let mut inner = self.lock()?;
        let Some(e) = inner.live_enrollment(enrollment, now) else {
            return Ok(FailureOutcome::Gone);
        };
        if let Some(until) = e.guesses.locked_until(network, now) {
            return Ok(FailureOutcome::Locked { until });
        }
        e.guess_version += 1;
        Ok(e.guesses.fail(budget, network, now).into())
    }

    async fn use_recovery_code(
        &self,
        enrollment: &Enrollment,
        hash: &CodeHash,
        network: &NetworkKey,
        _budget: &GuessBudget,
        now: OffsetDateTime,
    ) -> Result<RecoveryOutcome, StoreError> {
        let mut inner = self.lock()?;
        let Some(e) = inner.live_enrollment(enrollment, now) else {
            return Ok(RecoveryOutcome::Gone);
        };
        if let Some(until) = e.guesses.locked_until(network, now) {
            return Ok(RecoveryOutcome::Locked { until });
        }
        let position = e.recovery_hashes.iter().position(|h| h == hash);
        match position {
            Some(i) if e.is_active() => {
                e.recovery_hashes.swap_remove(i);
                e.guesses.succeed(network);
                e.guesses.prune(now);
                e.guess_version += 1;
                e.last_used_at = Some(now);
                Ok(RecoveryOutcome::Accepted {
                    remaining: e.recovery_hashes.len() as u32,
                })
            }
            _ => Ok(RecoveryOutcome::Unknown),
        }
    }
}

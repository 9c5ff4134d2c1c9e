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
        Ok(e.accept_step(step, network, now))
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
        Ok(e.count_failure(budget, network, now))
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
        Ok(e.use_recovery_code(hash, network, now))
    }
}

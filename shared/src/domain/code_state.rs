//! A sent code's state, and why a verify is refused before its code is compared: one order, which
//! both stores apply.

use std::time::Duration;

use time::OffsetDateTime;

/// A code is remembered this long past its expiry, so a late verify reads `expired`, not
/// `not_found`.
pub const CODE_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// Where a sent code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    Pending,
    /// Approved once.
    Consumed,
    /// Replaced by a newer code, or withdrawn after a failed delivery.
    Revoked,
}

/// Why a verify is refused before the code is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Consumed,
    /// Past its expiry, replaced or withdrawn.
    Expired,
    /// Its own attempts are used up.
    Locked,
    /// The asking network (or everyone) is locked out of its destination.
    LockedOut {
        until: OffsetDateTime,
    },
}

/// What a verify needs to know of a code before comparing it.
#[derive(Debug, Clone, Copy)]
pub struct CodeCheck {
    pub state: CodeState,
    pub expires_at: OffsetDateTime,
    pub failed_attempts: u32,
    pub max_attempts: u32,
}

impl CodeCheck {
    /// Why a verify at `now`, from a network locked out of the destination until
    /// `locked_out_until` (if it is), is refused, in this order: consumed, expired (replaced,
    /// withdrawn), locked by its own attempts, locked out by the guess budget. `None`: compare.
    pub fn refusal(
        &self,
        locked_out_until: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<Refusal> {
        match self.state {
            CodeState::Consumed => Some(Refusal::Consumed),
            CodeState::Revoked => Some(Refusal::Expired),
            CodeState::Pending if now >= self.expires_at => Some(Refusal::Expired),
            CodeState::Pending if self.failed_attempts >= self.max_attempts => {
                Some(Refusal::Locked)
            }
            CodeState::Pending => locked_out_until
                .filter(|until| now < *until)
                .map(|until| Refusal::LockedOut { until }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn consumed_wins_then_expired_then_its_own_lock_then_the_guess_budget() {
        let now = datetime!(2026-12-06 10:00 UTC);
        let code = |state, expires_at, failed_attempts| CodeCheck {
            state,
            expires_at,
            failed_attempts,
            max_attempts: 5,
        };
        let later = now + Duration::from_secs(60);
        let earlier = now - Duration::from_secs(1);
        let out = Some(later);
        assert_eq!(
            code(CodeState::Consumed, earlier, 5).refusal(out, now),
            Some(Refusal::Consumed)
        );
        assert_eq!(
            code(CodeState::Revoked, later, 0).refusal(None, now),
            Some(Refusal::Expired)
        );
        assert_eq!(
            code(CodeState::Pending, now, 5).refusal(out, now),
            Some(Refusal::Expired),
            "expiry at the instant itself"
        );
        assert_eq!(
            code(CodeState::Pending, later, 5).refusal(out, now),
            Some(Refusal::Locked)
        );
        assert_eq!(
            code(CodeState::Pending, later, 4).refusal(out, now),
            Some(Refusal::LockedOut { until: later })
        );
        assert_eq!(code(CodeState::Pending, later, 4).refusal(None, now), None);
        assert_eq!(
            code(CodeState::Pending, later, 4).refusal(Some(now), now),
            None,
            "a lock that ended"
        );
    }
}

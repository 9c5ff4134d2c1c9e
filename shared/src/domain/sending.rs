//! How often one destination may be sent a code, and the store's answer to a send: the rules both
//! stores apply when a send begins (the counters it is charged to are [`super::Quota`]s).

use std::time::Duration;

use time::OffsetDateTime;

use super::QuotaKind;

/// How often one destination may be sent a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendPolicy {
    /// A new send for the same destination and purpose is refused this long after the last one.
    pub resend_cooldown: Duration,
    /// At most this many sends to one destination (all purposes) within `window`.
    pub max_sends: u32,
    pub window: Duration,
}

impl SendPolicy {
    /// The decision every store applies, given what it holds for the destination: the times of its
    /// sends still inside the window (oldest first) and of the last send for this purpose.
    pub fn admit(
        &self,
        recent_sends: &[OffsetDateTime],
        last_for_purpose: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> SendAdmission {
        if let Some(last) = last_for_purpose {
            let retry_at = last + self.resend_cooldown;
            if now < retry_at {
                return SendAdmission::CoolingDown { retry_at };
            }
        }
        let window_start = now - self.window;
        let in_window: Vec<_> = recent_sends.iter().filter(|t| **t > window_start).collect();
        if in_window.len() >= self.max_sends as usize {
            // The oldest send in the window is the next to leave it.
            let retry_at = *in_window[in_window.len() - self.max_sends as usize] + self.window;
            return SendAdmission::CapReached { retry_at };
        }
        SendAdmission::Admitted {
            resend_at: now + self.resend_cooldown,
        }
    }

    /// How long a send under this policy, of a code living `code_lifetime`, matters to the rules:
    /// its window, its cooldown, or its code's life (a later send must still find the code to
    /// replace it), whichever is longest. A store keeps a destination's history for the longest
    /// this has been for any send to it, so a later send under a longer policy is never admitted
    /// early because a shorter one pruned what it needed.
    pub fn remembered_for(&self, code_lifetime: Duration) -> Duration {
        self.window.max(self.resend_cooldown).max(code_lifetime)
    }
}

/// The store's answer to a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendAdmission {
    /// Recorded; any earlier pending code for the same destination and purpose no longer works.
    Admitted { resend_at: OffsetDateTime },
    /// Too soon after the last send for this destination and purpose.
    CoolingDown { retry_at: OffsetDateTime },
    /// The destination's send cap for the window is used up.
    CapReached { retry_at: OffsetDateTime },
    /// A counter the send was charged to is full; nothing was recorded or charged.
    OverQuota {
        kind: QuotaKind,
        retry_at: OffsetDateTime,
    },
    /// The asking network (or everyone) guessed wrong too often at this destination.
    LockedOut { until: OffsetDateTime },
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: SendPolicy = SendPolicy {
        resend_cooldown: Duration::from_secs(30),
        max_sends: 3,
        window: Duration::from_secs(900),
    };

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_800_000_000 + seconds)
    }

    #[test]
    fn a_first_send_is_admitted_with_its_resend_time() {
        assert_eq!(
            POLICY.admit(&[], None, at(0)),
            SendAdmission::Admitted { resend_at: at(30) }
        );
    }

    #[test]
    fn a_resend_inside_the_cooldown_waits_for_its_end() {
        assert_eq!(
            POLICY.admit(&[at(0)], Some(at(0)), at(29)),
            SendAdmission::CoolingDown { retry_at: at(30) }
        );
        assert!(matches!(
            POLICY.admit(&[at(0)], Some(at(0)), at(30)),
            SendAdmission::Admitted { .. }
        ));
    }

    #[test]
    fn the_cap_counts_sends_inside_the_window_only() {
        let sends = [at(0), at(100), at(200)];
        assert_eq!(
            POLICY.admit(&sends, None, at(300)),
            SendAdmission::CapReached { retry_at: at(900) }
        );
        // At 900 the first send has left the window.
        assert!(matches!(
            POLICY.admit(&sends, None, at(900)),
            SendAdmission::Admitted { .. }
        ));
    }
}

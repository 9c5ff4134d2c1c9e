//! How replies show instants: to the whole second, rounded the way that never misleads.

use time::OffsetDateTime;

/// Timestamps are shown to the second (rounded down; never later than the real instant).
pub(super) fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).expect("0 is a valid nanosecond")
}

/// Rounds up to the next whole second: a lock shown as ending never ends later than shown.
pub(super) fn round_up(t: OffsetDateTime) -> OffsetDateTime {
    if t.nanosecond() == 0 {
        t
    } else {
        whole_seconds(t) + time::Duration::SECOND
    }
}

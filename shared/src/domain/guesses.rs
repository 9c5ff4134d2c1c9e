//! The guess budget of one destination: how many wrong codes may be tried against it, across all its
//! codes, purposes and profiles, before guessing stops.
//!
//! Two limits, so that an attacker cannot lock the real user out from elsewhere:
//! - per client network: `per_network` wrong codes in a row from one network lock that network out
//!   of the destination (its verifies of live codes and its new sends) for `lock_for`, doubling at
//!   each further lock up to a day. A success from that network resets its count and escalation.
//! - per destination: at most `per_destination` wrong codes from all networks together within any
//!   24 hours (NIST SP 800-63B-4's bound of 100); past it the destination is locked for everyone
//!   until the oldest of them leaves the window.
//!
//! The rule is stated here only: both stores keep a [`GuessRecord`] per destination and apply these
//! methods.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

use super::Invalid;

/// A client network's keyed pseudonym (an IPv4 address or IPv6 /64 for a browser; the principal
/// for the app's backend). Holds no address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkKey(String);

impl NetworkKey {
    /// A pseudonym as [`crate::crypto::Keys`] makes it, or as a store read it back: lower-case hex
    /// or `-`, so it can name an attribute.
    pub fn parse(key: &str) -> Result<Self, Invalid> {
        if key.is_empty()
            || key.len() > 64
            || !key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-')
        {
            return Err(Invalid::new("is not a network pseudonym"));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The numbers of a profile's guess budget, within the bounds that make it safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessBudget {
    /// Wrong codes in a row from one network before it is locked out: 3 to 10.
    pub per_network: u32,
    /// The first lock of a network: 15 minutes to a day; each later one twice the one before.
    pub lock_for: Duration,
    /// Wrong codes from all networks within 24 hours: 10 to 100.
    pub per_destination: u32,
}

impl Default for GuessBudget {
    fn default() -> Self {
        Self {
            per_network: 10,
            lock_for: Duration::from_secs(15 * 60),
            per_destination: 100,
        }
    }
}

impl GuessBudget {
    pub const PER_NETWORK: std::ops::RangeInclusive<u32> = 3..=10;
    pub const PER_DESTINATION: std::ops::RangeInclusive<u32> = 10..=100;
    pub const MIN_LOCK: Duration = Duration::from_secs(15 * 60);
    /// The longest lock of a network, and the window of the destination's count.
    pub const MAX_LOCK: Duration = Duration::from_secs(24 * 60 * 60);
    pub const WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

    pub fn new(
        per_network: u32,
        lock_for: Duration,
        per_destination: u32,
    ) -> Result<Self, Invalid> {
        if !Self::PER_NETWORK.contains(&per_network) {
            return Err(Invalid::new("per_network must be 3 to 10"));
        }
        if !(Self::MIN_LOCK..=Self::MAX_LOCK).contains(&lock_for) {
            return Err(Invalid::new("lock_minutes must be 15 to 1440"));
        }
        if !Self::PER_DESTINATION.contains(&per_destination) {
            return Err(Invalid::new("per_destination must be 10 to 100"));
        }
        Ok(Self {
            per_network,
            lock_for,
            per_destination,
        })
    }

    /// The lock that follows `lockouts` earlier ones since the network's last success.
    pub fn lock_length(&self, lockouts: u32) -> Duration {
        1u32.checked_shl(lockouts)
            .and_then(|factor| self.lock_for.checked_mul(factor))
            .unwrap_or(Self::MAX_LOCK)
            .min(Self::MAX_LOCK)
    }
}

/// One network's guessing at one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkGuesses {
    /// Wrong codes in a row since its last success, last lock, or a day without one.
    pub failures: u32,
    pub last_failure_at: Option<OffsetDateTime>,
    /// Locks since its last success: the next lasts [`GuessBudget::lock_length`] this many.
    pub lockouts: u32,
    pub locked_until: Option<OffsetDateTime>,
}

/// A lock a wrong code started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuessLock {
    /// The network that made it may not guess at, or be sent codes for, the destination.
    Network { until: OffsetDateTime },
    /// Nobody may, until the window lets go of the oldest failure.
    Destination { until: OffsetDateTime },
}

impl GuessLock {
    pub fn until(&self) -> OffsetDateTime {
        match self {
            GuessLock::Network { until } | GuessLock::Destination { until } => *until,
        }
    }
}

/// What a wrong code did to the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guess {
    /// Counted; this many more before a lock.
    Counted { attempts_remaining: u32 },
    /// It started this lock.
    LockStarted(GuessLock),
}

/// What a store keeps for one destination's guess budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuessRecord {
    pub networks: BTreeMap<NetworkKey, NetworkGuesses>,
    /// Wrong codes from all networks per clock hour (hours since the epoch).
    pub hourly: BTreeMap<i64, u32>,
    /// The end of the latest lock for everyone.
    pub locked_until: Option<OffsetDateTime>,
}

/// A run of failures with none for this long starts again.
const RUN_EXPIRY: Duration = GuessBudget::WINDOW;
/// A network's escalation is forgotten after this long without a wrong code (or at a success): long
/// enough that waiting out a day's lock does not also forgive the locks before it.
pub const ESCALATION_MEMORY: Duration = Duration::from_secs(7 * 24 * 60 * 60);
const HOUR: i64 = 3600;

/// The clock hour `now` falls in.
pub fn hour_of(now: OffsetDateTime) -> i64 {
    now.unix_timestamp().div_euclid(HOUR)
}

fn start_of_hour(hour: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(hour * HOUR).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl GuessRecord {
    /// Until when `network` may neither try codes for this destination nor be sent one.
    pub fn locked_until(
        &self,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let own = self.networks.get(network).and_then(|n| n.locked_until);
        own.max(self.locked_until).filter(|until| now < *until)
    }

    /// The locks in force at `now`, to be copied onto a code issued now: per network, and for
    /// everyone.
    pub fn active_locks(
        &self,
        now: OffsetDateTime,
    ) -> (Vec<(NetworkKey, OffsetDateTime)>, Option<OffsetDateTime>) {
        let networks = self
            .networks
            .iter()
            .filter_map(|(key, n)| Some((key.clone(), n.locked_until.filter(|u| now < *u)?)))
            .collect();
        (networks, self.locked_until.filter(|u| now < *u))
    }

    /// The networks with wrong codes counted against them: an approval from one of them must reset
    /// its count.
    pub fn guessing_networks(&self) -> Vec<NetworkKey> {
        self.networks
            .iter()
            .filter(|(_, n)| n.failures > 0 || n.lockouts > 0)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Whether `network`'s run of failures is over by age (none for a day): it counts from zero.
    pub fn run_has_lapsed(&self, network: &NetworkKey, now: OffsetDateTime) -> bool {
        self.networks
            .get(network)
            .and_then(|n| n.last_failure_at)
            .is_some_and(|last| now - last >= RUN_EXPIRY)
    }

    /// Counts one wrong code from `network` at `now` (what a store writes atomically).
    pub fn count_failure(&mut self, network: &NetworkKey, now: OffsetDateTime) {
        let lapsed = self.run_has_lapsed(network, now);
        let entry = self.networks.entry(network.clone()).or_default();
        if lapsed {
            entry.failures = 0;
        }
        // So whether `prune` ran in between never matters.
        if entry
            .last_failure_at
            .is_some_and(|last| now - last >= ESCALATION_MEMORY)
        {
            entry.lockouts = 0;
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure_at = Some(now);
        let bucket = self.hourly.entry(hour_of(now)).or_default();
        *bucket = bucket.saturating_add(1);
    }

    /// Wrong codes counted within the window that ends at `now`. Whole hours are counted, so the
    /// window is a little longer than a day, never shorter.
    pub fn failures_in_window(&self, now: OffsetDateTime) -> u64 {
        let first = hour_of(now) - Self::window_hours();
        self.hourly
            .range(first..)
            .map(|(_, count)| u64::from(*count))
            .sum()
    }

    fn window_hours() -> i64 {
        GuessBudget::WINDOW.as_secs() as i64 / HOUR
    }

    /// The lock the failures counted so far call for, if any: the destination's when its window is
    /// full (that one wins), else `network`'s when its run reached the budget.
    pub fn lock_due(
        &self,
        budget: &GuessBudget,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Option<GuessLock> {
        if self.failures_in_window(now) >= u64::from(budget.per_destination) {
            return Some(GuessLock::Destination {
                until: self.window_frees_at(budget, now),
            });
        }
        let entry = self.networks.get(network)?;
        (entry.failures >= budget.per_network).then(|| GuessLock::Network {
            until: now + budget.lock_length(entry.lockouts),
        })
    }

    /// When the window next holds fewer than `per_destination` failures: the hours leave it oldest
    /// first.
    fn window_frees_at(&self, budget: &GuessBudget, now: OffsetDateTime) -> OffsetDateTime {
        let first = hour_of(now) - Self::window_hours();
        let mut remaining = self.failures_in_window(now);
        for (hour, count) in self.hourly.range(first..) {
            remaining -= u64::from(*count);
            if remaining < u64::from(budget.per_destination) {
                return start_of_hour(hour + Self::window_hours() + 1);
            }
        }
        start_of_hour(hour_of(now) + Self::window_hours() + 1)
    }

    /// Records `lock`, started by a wrong code from `network`: a network's count starts again and
    /// its next lock will be longer.
    pub fn apply(&mut self, lock: GuessLock, network: &NetworkKey) {
        match lock {
            GuessLock::Network { until } => {
                let entry = self.networks.entry(network.clone()).or_default();
                entry.failures = 0;
                entry.lockouts = entry.lockouts.saturating_add(1);
                entry.locked_until = Some(until);
            }
            GuessLock::Destination { until } => {
                self.locked_until = self.locked_until.max(Some(until));
            }
        }
    }

    /// A right code from `network`: its count and escalation start again. The destination's window
    /// keeps its failures.
    pub fn succeed(&mut self, network: &NetworkKey) {
        self.networks.remove(network);
    }

    /// How many more wrong codes `network` may make before a lock: the fewer of its own run's and
    /// the destination's window's.
    pub fn attempts_remaining(
        &self,
        budget: &GuessBudget,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> u32 {
        let run = if self.run_has_lapsed(network, now) {
            0
        } else {
            self.networks.get(network).map_or(0, |n| n.failures)
        };
        let window = u32::try_from(self.failures_in_window(now)).unwrap_or(u32::MAX);
        budget
            .per_network
            .saturating_sub(run)
            .min(budget.per_destination.saturating_sub(window))
    }

    /// One wrong code from `network` at `now`, for a store that holds the whole record: counts it,
    /// starts the lock it calls for, and drops what no rule needs any more.
    pub fn fail(
        &mut self,
        budget: &GuessBudget,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Guess {
        self.count_failure(network, now);
        let outcome = match self.lock_due(budget, network, now) {
            Some(lock) => {
                self.apply(lock, network);
                Guess::LockStarted(lock)
            }
            None => Guess::Counted {
                attempts_remaining: self.attempts_remaining(budget, network, now),
            },
        };
        self.prune(now);
        outcome
    }

    /// Drops what no rule needs any more: hours outside the window, and networks whose lock is over
    /// and whose last wrong code is older than their count needs (a day) or, once locked before,
    /// than their escalation needs (a week).
    pub fn prune(&mut self, now: OffsetDateTime) {
        let first = hour_of(now) - Self::window_hours();
        self.hourly.retain(|hour, _| *hour >= first);
        self.networks.retain(|_, n| {
            let locked = n.locked_until.is_some_and(|u| now < u);
            let memory = if n.lockouts > 0 {
                ESCALATION_MEMORY
            } else {
                RUN_EXPIRY
            };
            let recent = n.last_failure_at.is_some_and(|t| now - t < memory);
            locked || recent
        });
        self.locked_until = self.locked_until.filter(|u| now < *u);
    }

    /// How long this record must be kept: until every lock is over and every failure has left the
    /// window and lapsed. `None`: nothing to keep.
    pub fn keep_until(&self) -> Option<OffsetDateTime> {
        let locks = self
            .networks
            .values()
            .filter_map(|n| n.locked_until)
            .chain(self.locked_until);
        let runs = self.networks.values().filter_map(|n| {
            let memory = if n.lockouts > 0 {
                ESCALATION_MEMORY
            } else {
                RUN_EXPIRY
            };
            n.last_failure_at.map(|t| t + memory)
        });
        let hours = self
            .hourly
            .keys()
            .map(|hour| start_of_hour(hour + Self::window_hours() + 1));
        locks.chain(runs).chain(hours).max()
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty() && self.hourly.is_empty() && self.locked_until.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn net(name: &str) -> NetworkKey {
        NetworkKey::parse(name).unwrap()
    }

    /// Counts a failure the way a store does, returning the lock it started.
    fn fail(
        record: &mut GuessRecord,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Option<GuessLock> {
        record.count_failure(network, now);
        let lock = record.lock_due(&GuessBudget::default(), network, now)?;
        record.apply(lock, network);
        Some(lock)
    }

    #[test]
    fn ten_failures_from_one_network_lock_it_out_for_15_minutes_then_longer() {
        let now = datetime!(2026-12-06 10:00 UTC);
        let (attacker, user) = (net("aa"), net("bb"));
        let mut record = GuessRecord::default();
        for _ in 0..9 {
            assert_eq!(fail(&mut record, &attacker, now), None);
        }
        let lock = fail(&mut record, &attacker, now).unwrap();
        assert_eq!(
            lock,
            GuessLock::Network {
                until: now + Duration::from_secs(900)
            }
        );
        assert_eq!(record.locked_until(&attacker, now), Some(lock.until()));
        assert_eq!(
            record.locked_until(&user, now),
            None,
            "another network is not locked"
        );
        let later = lock.until();
        assert_eq!(record.locked_until(&attacker, later), None);
        for _ in 0..9 {
            assert_eq!(fail(&mut record, &attacker, later), None);
        }
        assert_eq!(
            fail(&mut record, &attacker, later),
            Some(GuessLock::Network {
                until: later + Duration::from_secs(1800)
            })
        );
    }

    #[test]
    fn locks_double_up_to_a_day_and_a_success_forgives() {
        let budget = GuessBudget::default();
        assert_eq!(budget.lock_length(0), Duration::from_secs(900));
        assert_eq!(budget.lock_length(6), Duration::from_secs(57_600));
        assert_eq!(budget.lock_length(7), GuessBudget::MAX_LOCK);
        assert_eq!(budget.lock_length(40), GuessBudget::MAX_LOCK);
        let now = datetime!(2026-12-06 10:00 UTC);
        let n = net("aa");
        let mut record = GuessRecord::default();
        for _ in 0..9 {
            record.count_failure(&n, now);
        }
        record.succeed(&n);
        assert_eq!(fail(&mut record, &n, now), None, "the count started again");
        assert_eq!(record.guessing_networks(), vec![n.clone()]);
    }

    #[test]
    fn the_hundredth_failure_in_a_day_locks_everyone_until_the_oldest_leaves_the_window() {
        let start = datetime!(2026-12-06 10:30 UTC);
        let mut record = GuessRecord::default();
        // 100 networks, one wrong code each, one every 10 minutes.
        let mut lock = None;
        for i in 0..100u32 {
            let n = net(&format!("{i:x}"));
            let at = start + Duration::from_secs(600) * i;
            lock = fail(&mut record, &n, at);
            if i < 99 {
                assert_eq!(lock, None, "failure {i}");
            }
        }
        let last = start + Duration::from_secs(600) * 99;
        let until = lock.expect("the 100th locks").until();
        // The 10:00 hour holds 3 failures (10:30, 10:40, 10:50): the window frees when it leaves,
        // at 11:00 the next day.
        assert_eq!(until, datetime!(2026-12-07 11:00 UTC));
        assert!(until - start >= time::Duration::days(1));
        assert_eq!(record.locked_until(&net("ffff"), last), Some(until));
        assert_eq!(record.failures_in_window(last), 100);
    }

    #[test]
    fn a_run_lapses_after_a_day_and_pruning_keeps_only_what_counts() {
        let now = datetime!(2026-12-06 10:00 UTC);
        let n = net("aa");
        let mut record = GuessRecord::default();
        for _ in 0..9 {
            record.count_failure(&n, now);
        }
        let next_day = now + Duration::from_secs(86_400);
        assert!(record.run_has_lapsed(&n, next_day));
        assert_eq!(fail(&mut record, &n, next_day), None);
        assert_eq!(record.networks[&n].failures, 1);
        record.prune(next_day + Duration::from_secs(2 * 86_400));
        assert!(record.is_empty());
        // A network locked before keeps its escalation for a week without a wrong code, so waiting
        // out a day's lock does not forgive the locks before it.
        for _ in 0..10 {
            fail(&mut record, &n, now);
        }
        assert_eq!(record.networks[&n].lockouts, 1);
        record.prune(now + Duration::from_secs(6 * 86_400));
        assert_eq!(record.networks[&n].lockouts, 1);
        record.prune(now + ESCALATION_MEMORY);
        assert!(record.networks.is_empty());
        assert_eq!(GuessRecord::default().keep_until(), None);
    }

    #[test]
    fn budgets_are_bounded() {
        let minute = Duration::from_secs(60);
        assert!(GuessBudget::new(10, minute * 15, 100).is_ok());
        assert!(GuessBudget::new(11, minute * 15, 100).is_err());
        assert!(GuessBudget::new(2, minute * 15, 100).is_err());
        assert!(GuessBudget::new(10, minute * 14, 100).is_err());
        assert!(GuessBudget::new(10, minute * 1441, 100).is_err());
        assert!(GuessBudget::new(10, minute * 15, 101).is_err());
        assert!(NetworkKey::parse("Ab").is_err());
        assert!(NetworkKey::parse("").is_err());
    }
}

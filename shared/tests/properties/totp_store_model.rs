//! `MemoryStore` as a `TotpStore`, against a plain reference model: enrolments (pending or
//! active, replacing or not), accepted time steps, wrong codes from two client networks, recovery
//! codes, removals and clock moves across the escalating per-network locks (up to their one-day
//! cap), the per-user daily window, its lapses and the pending window, under a few guess budgets.
//! Every answer must match the model's, and, on the store's answers alone, no time step is ever
//! accepted twice for an enrolment, nor one older than a step it already accepted, nor a recovery
//! code used twice.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use otp_shared::adapters::MemoryStore;
use otp_shared::crypto::CodeHash;
use otp_shared::crypto::SealedSecret;
use otp_shared::domain::{GuessBudget, GuessLock, NetworkKey, UserId};
use otp_shared::ports::{
    EnrollAdmission, Enrollment, FailureOutcome, RecoveryOutcome, StepOutcome, TotpStore,
};
use otp_shared::totp::TotpParams;
use proptest::prelude::*;
use time::OffsetDateTime;

/// The longest lock, as the model knows it.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const PENDING_FOR: Duration = Duration::from_secs(600);
const RECOVERY_CODES: u8 = 3;

#[derive(Debug, Clone)]
enum Op {
    Enroll {
        pending: bool,
        replace: bool,
    },
    /// `stale` names the enrolment before the current one, as a request racing a re-enrolment.
    Step {
        step: u64,
        stale: bool,
        network: usize,
    },
    Fail {
        stale: bool,
        network: usize,
    },
    Recovery {
        code: u8,
        stale: bool,
        network: usize,
    },
    Remove,
    Read,
    Advance {
        seconds: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (any::<bool>(), any::<bool>()).prop_map(|(pending, replace)| Op::Enroll { pending, replace }),
        4 => (0u64..8, prop::bool::weighted(0.1), network())
            .prop_map(|(step, stale, network)| Op::Step { step, stale, network }),
        8 => (prop::bool::weighted(0.1), network())
            .prop_map(|(stale, network)| Op::Fail { stale, network }),
        2 => (0..RECOVERY_CODES + 1, prop::bool::weighted(0.1), network())
            .prop_map(|(code, stale, network)| Op::Recovery { code, stale, network }),
        1 => Just(Op::Remove),
        1 => Just(Op::Read),
        2 => prop::sample::select(vec![1u64, 30, 299, 300, 301, 599, 600, 601])
            .prop_map(|seconds| Op::Advance { seconds }),
        // Across the longer locks, the cap, the daily window (counted in whole hours) and the
        // week that keeps a network's escalation.
        2 => prop::sample::select(vec![
            899u64, 900, 3_600, 21_599, 21_600, 43_200, 50_000, 86_399, 86_400, 90_000,
        ])
        .prop_map(|seconds| Op::Advance { seconds }),
        1 => Just(Op::Advance { seconds: 604_800 }),
    ]
}

/// Two networks: the attacker's and the user's, say.
fn network() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![0usize, 0, 0, 1])
}

fn network_key(network: usize) -> NetworkKey {
    NetworkKey::parse(["a0", "b1"][network]).unwrap()
}

/// Guess budgets at the bounds: few and many wrong codes per network, short locks that take many
/// doublings to reach a day and long ones that reach it at once or between two doublings, and a
/// small and the largest daily window.
fn budget() -> impl Strategy<Value = GuessBudget> {
    (
        prop::sample::select(vec![3u32, 10]),
        prop::sample::select(vec![900u64, 21_600, 50_000]),
        prop::sample::select(vec![10u32, 100]),
    )
        .prop_map(|(per_network, first, per_destination)| {
            GuessBudget::new(per_network, Duration::from_secs(first), per_destination).unwrap()
        })
}

const HOUR: i64 = 3600;
const WEEK: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// One network's guessing, as the model keeps it.
#[derive(Debug, Clone, Default)]
struct NetworkModel {
    failures: u32,
    last_failure: Option<OffsetDateTime>,
    lockouts: u32,
    locked_until: Option<OffsetDateTime>,
}

/// The model's enrolment.
#[derive(Debug, Clone)]
struct Model {
    id: String,
    pending_until: Option<OffsetDateTime>,
    last_step: Option<u64>,
    networks: [NetworkModel; 2],
    /// Every wrong code counted, from any network.
    failures: Vec<OffsetDateTime>,
    locked_until: Option<OffsetDateTime>,
    recovery: BTreeSet<u8>,
}

fn hour(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(HOUR)
}

impl Model {
    fn new(id: String, pending_until: Option<OffsetDateTime>) -> Self {
        Self {
            id,
            pending_until,
            last_step: None,
            networks: Default::default(),
            failures: Vec::new(),
            locked_until: None,
            recovery: (0..RECOVERY_CODES).collect(),
        }
    }

    fn live(&self, id: &str, now: OffsetDateTime) -> bool {
        self.id == id && !self.lapsed(now)
    }

    fn lapsed(&self, now: OffsetDateTime) -> bool {
        self.pending_until.is_some_and(|until| now >= until)
    }

    fn locked_until(&self, network: usize, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.networks[network]
            .locked_until
            .max(self.locked_until)
            .filter(|until| now < *until)
    }

    /// Wrong codes in the clock hours of the last day and the current one, oldest first.
    fn in_window(&self, now: OffsetDateTime) -> Vec<OffsetDateTime> {
        let mut times: Vec<_> = self
            .failures
            .iter()
            .copied()
            .filter(|t| hour(*t) >= hour(now) - 24)
            .collect();
        times.sort();
        times
    }

    /// A network's run, counting from zero after a day without a wrong code.
    fn run(&self, network: usize, now: OffsetDateTime) -> u32 {
        let n = &self.networks[network];
        match n.last_failure {
            Some(last) if now - last < DAY => n.failures,
            _ => 0,
        }
    }

    fn attempts_remaining(&self, budget: GuessBudget, network: usize, now: OffsetDateTime) -> u32 {
        let window = self.in_window(now).len() as u32;
        (budget.per_network - self.run(network, now))
            .min(budget.per_destination.saturating_sub(window))
    }

    /// A right code or a recovery code from `network`.
    fn succeed(&mut self, network: usize) {
        self.networks[network] = NetworkModel::default();
    }

    /// A wrong code from `network` while it is not locked.
    fn fail(&mut self, budget: GuessBudget, network: usize, now: OffsetDateTime) -> FailureOutcome {
        let run = self.run(network, now);
        let n = &mut self.networks[network];
        if n.last_failure.is_some_and(|last| now - last >= WEEK) {
            n.lockouts = 0;
        }
        n.failures = run + 1;
        n.last_failure = Some(now);
        self.failures.push(now);
        let window = self.in_window(now);
        if window.len() as u32 >= budget.per_destination {
            // Until enough whole hours have left the window, oldest first.
            let mut remaining = window.len() as u32;
            let mut until = None;
            for t in &window {
                remaining -= 1;
                let next_in_same_hour = window.iter().any(|u| u > t && hour(*u) == hour(*t));
                if remaining < budget.per_destination && !next_in_same_hour {
                    until = Some(hour(*t));
                    break;
                }
            }
            let leaves = until.expect("the window empties") + 25;
            let until = OffsetDateTime::from_unix_timestamp(leaves * HOUR).unwrap();
            self.locked_until = self.locked_until.max(Some(until));
            return FailureOutcome::LockStarted(GuessLock::Destination { until });
        }
        let n = &mut self.networks[network];
        if n.failures < budget.per_network {
            return FailureOutcome::Counted {
                attempts_remaining: self.attempts_remaining(budget, network, now),
            };
        }
        // The first lock, doubled once per lock before it, at most a day.
        let mut length = budget.lock_for.min(DAY);
        for _ in 0..n.lockouts {
            length = (length * 2).min(DAY);
        }
        let until = now + length;
        n.failures = 0;
        n.lockouts += 1;
        n.locked_until = Some(until);
        FailureOutcome::LockStarted(GuessLock::Network { until })
    }
}

fn recovery_hash(code: u8) -> CodeHash {
    CodeHash::from_bytes([code + 1; 32])
}

fn enrollment(user: &UserId, id: &str, pending: bool, now: OffsetDateTime) -> Enrollment {
    Enrollment {
        user_id: user.clone(),
        enrollment_id: id.to_owned(),
        sealed_secret: SealedSecret {
            key_id: "k".into(),
            nonce: "n".into(),
            ciphertext: "c".into(),
        },
        params: TotpParams::default(),
        created_at: now,
        pending_until: pending.then_some(now + PENDING_FOR),
        last_used_at: None,
        last_step: None,
        guesses: Default::default(),
        guess_version: 0,
        recovery_hashes: (0..RECOVERY_CODES).map(recovery_hash).collect(),
    }
}

/// The enrolment `id` as a caller would have read it: the memory store decides on its own copy,
/// and needs only the user and the enrolment id.
fn as_read(user: &UserId, id: &str, now: OffsetDateTime) -> Enrollment {
    enrollment(user, id, false, now)
}

async fn run(budget: GuessBudget, ops: &[Op]) -> Result<(), TestCaseError> {
    let store = MemoryStore::new();
    let user = UserId::parse("user-1").unwrap();
    let mut now = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut model: Option<Model> = None;
    let mut enrolments = 0u32;
    // What the store accepted, per enrolment: steps in order, recovery codes.
    let mut steps: HashMap<String, Vec<u64>> = HashMap::new();
    let mut recovered: HashMap<String, BTreeSet<u8>> = HashMap::new();
    let id_of = |n: u32| format!("enrolment-{n}");

    for (at, op) in ops.iter().enumerate() {
        let current = id_of(enrolments);
        let target = |stale: bool| {
            if stale {
                id_of(enrolments.saturating_sub(1))
            } else {
                current.clone()
            }
        };
        match *op {
            Op::Enroll { pending, replace } => {
                let next = id_of(enrolments + 1);
                let got = store
                    .enroll(enrollment(&user, &next, pending, now), replace, now)
                    .await
                    .unwrap();
                let blocked = model
                    .as_ref()
                    .is_some_and(|m| m.pending_until.is_none() && !replace);
                let expected = if blocked {
                    EnrollAdmission::ActiveExists
                } else {
                    enrolments += 1;
                    model = Some(Model::new(next, pending.then_some(now + PENDING_FOR)));
                    EnrollAdmission::Enrolled
                };
                prop_assert_eq!(got, expected, "step {}: {:?}", at, op);
            }
            Op::Step {
                step,
                stale,
                network,
            } => {
                let id = target(stale);
                let read = as_read(&user, &id, now);
                let got = store
                    .accept_step(&read, step, &network_key(network), &budget, now)
                    .await
                    .unwrap();
                let expected = match model.as_mut().filter(|m| m.live(&id, now)) {
                    None => StepOutcome::Gone,
                    Some(m) => match m.locked_until(network, now) {
                        Some(until) => StepOutcome::Locked { until },
                        None if m.last_step.is_some_and(|last| step <= last) => {
                            StepOutcome::Replayed
                        }
                        None => {
                            m.last_step = Some(step);
                            m.succeed(network);
                            m.pending_until = None;
                            StepOutcome::Accepted
                        }
                    },
                };
                prop_assert_eq!(got, expected, "step {}: {:?}", at, op);
                if got == StepOutcome::Accepted {
                    let accepted = steps.entry(id).or_default();
                    prop_assert!(
                        accepted.last().is_none_or(|last| step > *last),
                        "time step {} accepted after {:?}",
                        step,
                        accepted
                    );
                    accepted.push(step);
                }
            }
            Op::Fail { stale, network } => {
                let id = target(stale);
                let read = as_read(&user, &id, now);
                let got = store
                    .count_failure(&read, &network_key(network), &budget, now)
                    .await
                    .unwrap();
                let expected = match model.as_mut().filter(|m| m.live(&id, now)) {
                    None => FailureOutcome::Gone,
                    Some(m) => match m.locked_until(network, now) {
                        Some(until) => FailureOutcome::Locked { until },
                        None => m.fail(budget, network, now),
                    },
                };
                prop_assert_eq!(got, expected, "step {}: {:?}", at, op);
            }
            Op::Recovery {
                code,
                stale,
                network,
            } => {
                let id = target(stale);
                let read = as_read(&user, &id, now);
                let got = store
                    .use_recovery_code(
                        &read,
                        &recovery_hash(code),
                        &network_key(network),
                        &budget,
                        now,
                    )
                    .await
                    .unwrap();
                let expected = match model.as_mut().filter(|m| m.live(&id, now)) {
                    None => RecoveryOutcome::Gone,
                    Some(m) => match m.locked_until(network, now) {
                        Some(until) => RecoveryOutcome::Locked { until },
                        None if m.pending_until.is_none() && m.recovery.remove(&code) => {
                            m.succeed(network);
                            RecoveryOutcome::Accepted {
                                remaining: m.recovery.len() as u32,
                            }
                        }
                        None => RecoveryOutcome::Unknown,
                    },
                };
                prop_assert_eq!(got, expected, "step {}: {:?}", at, op);
                if matches!(got, RecoveryOutcome::Accepted { .. }) {
                    prop_assert!(
                        recovered.entry(id).or_default().insert(code),
                        "recovery code {} used twice",
                        code
                    );
                }
            }
            Op::Remove => {
                // Whether anything was stored, a lapsed pending enrolment included.
                let got = store.remove(&user).await.unwrap();
                prop_assert_eq!(got, model.take().is_some(), "step {}", at);
            }
            Op::Read => {
                let got = store.enrollment(&user, now).await.unwrap();
                let expected = model.as_ref().filter(|m| !m.lapsed(now));
                prop_assert_eq!(got.is_some(), expected.is_some(), "step {}", at);
                if let (Some(got), Some(expected)) = (got, expected) {
                    prop_assert_eq!(&got.enrollment_id, &expected.id);
                    prop_assert_eq!(got.last_step, expected.last_step);
                    for network in 0..2 {
                        let key = network_key(network);
                        prop_assert_eq!(
                            got.guesses.locked_until(&key, now),
                            expected.locked_until(network, now),
                            "step {}: network {}",
                            at,
                            network
                        );
                        if expected.locked_until(network, now).is_none() {
                            prop_assert_eq!(
                                got.guesses.attempts_remaining(&budget, &key, now),
                                expected.attempts_remaining(budget, network, now),
                                "step {}: network {}",
                                at,
                                network
                            );
                        }
                    }
                    prop_assert_eq!(got.recovery_hashes.len(), expected.recovery.len());
                }
            }
            Op::Advance { seconds } => now += Duration::from_secs(seconds),
        }
    }
    Ok(())
}

#[test]
fn the_memory_totp_store_agrees_with_the_model_and_never_accepts_a_step_twice() {
    let runtime = super::runtime();
    proptest!(super::config(256), |(budget in budget(), ops in prop::collection::vec(op(), 1..80))| {
        runtime.block_on(run(budget, &ops))?;
    });
}

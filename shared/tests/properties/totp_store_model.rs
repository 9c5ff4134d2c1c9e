//! `MemoryStore` as a `TotpStore`, against a plain reference model: enrolments (pending or
//! active, replacing or not), accepted time steps, wrong codes, recovery codes, removals and clock
//! moves across the escalating locks (up to their one-day cap) and the pending window, under a few
//! lock policies. Every answer must match the model's, and, on the store's answers alone, no time
//! step is ever accepted twice for an enrolment, nor one older than a step it already accepted, nor
//! a recovery code used twice.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use otp_shared::adapters::MemoryStore;
use otp_shared::domain::UserId;
use otp_shared::hashing::CodeHash;
use otp_shared::ports::{
    EnrollAdmission, Enrollment, FailureOutcome, LockPolicy, RecoveryOutcome, StepOutcome,
    TotpStore,
};
use otp_shared::totp::{SealedSecret, TotpParams};
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
    },
    Fail {
        stale: bool,
    },
    Recovery {
        code: u8,
        stale: bool,
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
        4 => (0u64..8, prop::bool::weighted(0.1)).prop_map(|(step, stale)| Op::Step { step, stale }),
        3 => prop::bool::weighted(0.1).prop_map(|stale| Op::Fail { stale }),
        2 => (0..RECOVERY_CODES + 1, prop::bool::weighted(0.1))
            .prop_map(|(code, stale)| Op::Recovery { code, stale }),
        1 => Just(Op::Remove),
        1 => Just(Op::Read),
        2 => prop::sample::select(vec![1u64, 30, 299, 300, 301, 599, 600, 601])
            .prop_map(|seconds| Op::Advance { seconds }),
        // Across the longer locks and the cap.
        1 => prop::sample::select(vec![21_599u64, 21_600, 43_200, 50_000, 86_399, 86_400])
            .prop_map(|seconds| Op::Advance { seconds }),
    ]
}

/// Wrong codes in a row that lock, and the first lock's length: short locks that take many doublings
/// to reach a day, and long ones that reach it at once or between two doublings.
fn policy() -> impl Strategy<Value = LockPolicy> {
    (
        prop::sample::select(vec![1u32, 3]),
        prop::sample::select(vec![300u64, 21_600, 50_000]),
    )
        .prop_map(|(max_failures, first)| LockPolicy {
            max_failures,
            lock_for: Duration::from_secs(first),
        })
}

/// The model's enrolment.
#[derive(Debug, Clone)]
struct Model {
    id: String,
    pending_until: Option<OffsetDateTime>,
    last_step: Option<u64>,
    /// Wrong codes since the last success or lock.
    failures: u32,
    /// Locks since the last success, and the end of the latest.
    lockouts: u32,
    locked_until: Option<OffsetDateTime>,
    recovery: BTreeSet<u8>,
}

impl Model {
    fn live(&self, id: &str, now: OffsetDateTime) -> bool {
        self.id == id && !self.lapsed(now)
    }

    fn lapsed(&self, now: OffsetDateTime) -> bool {
        self.pending_until.is_some_and(|until| now >= until)
    }

    fn locked_until(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.locked_until.filter(|until| now < *until)
    }

    /// A right code or a recovery code.
    fn succeed(&mut self) {
        self.failures = 0;
        self.lockouts = 0;
        self.locked_until = None;
    }

    /// A wrong code while not locked.
    fn fail(&mut self, policy: LockPolicy, now: OffsetDateTime) -> FailureOutcome {
        self.failures += 1;
        if self.failures < policy.max_failures {
            return FailureOutcome::Counted {
                attempts_remaining: policy.max_failures - self.failures,
            };
        }
        // The first lock, doubled once per lock before it since the last success, at most a day.
        let mut length = policy.lock_for.min(DAY);
        for _ in 0..self.lockouts {
            length = (length * 2).min(DAY);
        }
        let until = now + length;
        self.failures = 0;
        self.lockouts += 1;
        self.locked_until = Some(until);
        FailureOutcome::Locked { until }
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
        failures: 0,
        last_failure_at: None,
        lockouts: 0,
        locked_until: None,
        recovery_hashes: (0..RECOVERY_CODES).map(recovery_hash).collect(),
    }
}

async fn run(policy: LockPolicy, ops: &[Op]) -> Result<(), TestCaseError> {
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
                    model = Some(Model {
                        id: next,
                        pending_until: pending.then_some(now + PENDING_FOR),
                        last_step: None,
                        failures: 0,
                        lockouts: 0,
                        locked_until: None,
                        recovery: (0..RECOVERY_CODES).collect(),
                    });
                    EnrollAdmission::Enrolled
                };
                prop_assert_eq!(got, expected, "step {}: {:?}", at, op);
            }
            Op::Step { step, stale } => {
                let id = target(stale);
                let got = store
                    .accept_step(&user, &id, step, now, policy)
                    .await
                    .unwrap();
                let expected = match model.as_mut().filter(|m| m.live(&id, now)) {
                    None => StepOutcome::Gone,
                    Some(m) => match m.locked_until(now) {
                        Some(until) => StepOutcome::Locked { until },
                        None if m.last_step.is_some_and(|last| step <= last) => {
                            StepOutcome::Replayed
                        }
                        None => {
                            m.last_step = Some(step);
                            m.succeed();
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
            Op::Fail { stale } => {
                let id = target(stale);
                let got = store.count_failure(&user, &id, now, policy).await.unwrap();
                let expected = match model.as_mut().filter(|m| m.live(&id, now)) {
                    None => FailureOutcome::Gone,
                    Some(m) => match m.locked_until(now) {
                        Some(until) => FailureOutcome::Locked { until },
                        None => m.fail(policy, now),
                    },
                };
                prop_assert_eq!(got, expected, "step {}: {:?}", at, op);
            }
            Op::Recovery { code, stale } => {
                let id = target(stale);
                let got = store
                    .use_recovery_code(&user, &id, &recovery_hash(code), now, policy)
                    .await
                    .unwrap();
                let expected = match model.as_mut().filter(|m| m.live(&id, now)) {
                    None => RecoveryOutcome::Gone,
                    Some(m) => match m.locked_until(now) {
                        Some(until) => RecoveryOutcome::Locked { until },
                        None if m.pending_until.is_none() && m.recovery.remove(&code) => {
                            m.succeed();
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
                    prop_assert_eq!(got.failures, expected.failures);
                    prop_assert_eq!(got.lockouts, expected.lockouts);
                    prop_assert_eq!(got.locked_until, expected.locked_until);
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
    proptest!(super::config(256), |(policy in policy(), ops in prop::collection::vec(op(), 1..60))| {
        runtime.block_on(run(policy, &ops))?;
    });
}

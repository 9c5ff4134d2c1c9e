//! The TOTP store contract, run on both stores: the in-memory one and DynamoDB (the emulator).

use std::time::Duration;

use futures::future::join_all;
use otp_shared::ServiceSecret;
use otp_shared::adapters::{MemoryStore, OsRandomness};
use otp_shared::domain::UserId;
use otp_shared::hashing::Keys;
use otp_shared::ports::{
    EnrollAdmission, Enrollment, FailureOutcome, LockPolicy, RecoveryOutcome, StepOutcome,
    TotpStore,
};
use otp_shared::totp::{TotpParams, TotpSecret};
use time::OffsetDateTime;

use crate::helpers::Emulator;

const POLICY: LockPolicy = LockPolicy {
    max_failures: 5,
    lock_for: Duration::from_secs(15 * 60),
};

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
}

fn keys() -> Keys {
    Keys::derive(&ServiceSecret::parse("a service secret for the store contract tests").unwrap())
}

/// A pending enrolment made at `now`, with `id` and two recovery codes "AAAAA11111", "BBBBB22222".
fn enrollment(user: &str, id: &str, now: OffsetDateTime) -> Enrollment {
    let keys = keys();
    let secret = TotpSecret::generate(&OsRandomness);
    Enrollment {
        user_id: UserId::parse(user).unwrap(),
        enrollment_id: id.to_owned(),
        sealed_secret: keys.totp_sealer().seal(user, &secret, &OsRandomness),
        params: TotpParams::default(),
        created_at: now,
        pending_until: Some(now + Duration::from_secs(15 * 60)),
        last_used_at: None,
        last_step: None,
        failures: 0,
        last_failure_at: None,
        lockouts: 0,
        locked_until: None,
        recovery_hashes: ["AAAAA11111", "BBBBB22222"]
            .iter()
            .map(|code| keys.recovery_code_hash(user, code))
            .collect(),
    }
}

async fn contract(store: &impl TotpStore) {
    let ana = UserId::parse("ana").unwrap();

    // Enrol, confirm, and only `replace` displaces an active enrolment.
    assert_eq!(
        store
            .enroll(enrollment("ana", "e1", at(0)), false, at(0))
            .await
            .unwrap(),
        EnrollAdmission::Enrolled
    );
    let stored = store.enrollment(&ana, at(1)).await.unwrap().unwrap();
    assert!(!stored.is_active());
    assert_eq!(stored.recovery_hashes.len(), 2);
    assert_eq!(
        store
            .enroll(enrollment("ana", "e2", at(2)), false, at(2))
            .await
            .unwrap(),
        EnrollAdmission::Enrolled,
        "a pending enrolment gives way"
    );
    assert_eq!(
        store
            .accept_step(&ana, "e1", 100, at(3), POLICY)
            .await
            .unwrap(),
        StepOutcome::Gone,
        "the replaced enrolment's codes no longer count"
    );
    assert_eq!(
        store
            .accept_step(&ana, "e2", 100, at(3), POLICY)
            .await
            .unwrap(),
        StepOutcome::Accepted
    );
    let active = store.enrollment(&ana, at(4)).await.unwrap().unwrap();
    assert!(active.is_active());
    assert_eq!(active.last_step, Some(100));
    assert_eq!(active.last_used_at, Some(at(3)));
    assert_eq!(
        store
            .enroll(enrollment("ana", "e3", at(5)), false, at(5))
            .await
            .unwrap(),
        EnrollAdmission::ActiveExists
    );

    // Each step once, and never an older one after a newer one.
    assert_eq!(
        store
            .accept_step(&ana, "e2", 100, at(6), POLICY)
            .await
            .unwrap(),
        StepOutcome::Replayed
    );
    assert_eq!(
        store
            .accept_step(&ana, "e2", 99, at(6), POLICY)
            .await
            .unwrap(),
        StepOutcome::Replayed
    );
    assert_eq!(
        store
            .accept_step(&ana, "e2", 101, at(31), POLICY)
            .await
            .unwrap(),
        StepOutcome::Accepted
    );

    // Five failures in a row lock; the lock ends 15 minutes after the last.
    let until = at(41) + POLICY.lock_for;
    assert_eq!(
        five_failures(store, &ana, at(40), at(41)).await,
        FailureOutcome::Locked { until }
    );
    assert_eq!(
        store
            .accept_step(&ana, "e2", 102, at(60), POLICY)
            .await
            .unwrap(),
        StepOutcome::Locked { until },
        "not even the right code while locked"
    );
    assert_eq!(
        store
            .use_recovery_code(
                &ana,
                "e2",
                &keys().recovery_code_hash("ana", "AAAAA11111"),
                at(60),
                POLICY
            )
            .await
            .unwrap(),
        RecoveryOutcome::Locked { until }
    );
    assert_eq!(
        store
            .count_failure(&ana, "e2", at(60), POLICY)
            .await
            .unwrap(),
        FailureOutcome::Locked { until },
        "a wrong code while locked is not counted"
    );
    let locked = store.enrollment(&ana, at(60)).await.unwrap().unwrap();
    assert_eq!(
        (locked.failures, locked.lockouts, locked.locked_until),
        (0, 1, Some(until))
    );

    // Each lock after it is twice the one before, up to a day; the count starts again after each.
    let mut now = until;
    for minutes in [30, 60, 120, 240, 480, 960, 1440, 1440] {
        let until = now + Duration::from_secs(minutes * 60);
        assert_eq!(
            five_failures(store, &ana, now, now).await,
            FailureOutcome::Locked { until },
            "the {minutes}-minute lock"
        );
        assert_eq!(
            store
                .accept_step(&ana, "e2", 102, until - Duration::from_secs(1), POLICY)
                .await
                .unwrap(),
            StepOutcome::Locked { until },
            "the right code, a second before the {minutes}-minute lock ends"
        );
        now = until;
    }

    // A success resets the count and the escalation.
    assert_eq!(
        store.count_failure(&ana, "e2", now, POLICY).await.unwrap(),
        FailureOutcome::Counted {
            attempts_remaining: 4
        },
        "after the lock the count starts again"
    );
    assert_eq!(
        store
            .accept_step(&ana, "e2", 200, now, POLICY)
            .await
            .unwrap(),
        StepOutcome::Accepted
    );
    let reset = store.enrollment(&ana, now).await.unwrap().unwrap();
    assert_eq!(
        (
            reset.failures,
            reset.last_failure_at,
            reset.lockouts,
            reset.locked_until
        ),
        (0, None, 0, None)
    );
    let until = now + POLICY.lock_for;
    assert_eq!(
        five_failures(store, &ana, now, now).await,
        FailureOutcome::Locked { until },
        "after a success, fifteen minutes again"
    );
    now = until;
    let until = now + 2 * POLICY.lock_for;
    assert_eq!(
        five_failures(store, &ana, now, now).await,
        FailureOutcome::Locked { until }
    );
    now = until;
    // So does a recovery code: each once.
    let a = keys().recovery_code_hash("ana", "AAAAA11111");
    assert_eq!(
        store
            .use_recovery_code(&ana, "e2", &a, now, POLICY)
            .await
            .unwrap(),
        RecoveryOutcome::Accepted { remaining: 1 }
    );
    let reset = store.enrollment(&ana, now).await.unwrap().unwrap();
    assert_eq!(
        (reset.failures, reset.lockouts, reset.locked_until),
        (0, 0, None)
    );
    assert_eq!(
        five_failures(store, &ana, now, now).await,
        FailureOutcome::Locked {
            until: now + POLICY.lock_for
        },
        "after a recovery code, fifteen minutes again"
    );
    let after = now + POLICY.lock_for;
    assert_eq!(
        store
            .use_recovery_code(&ana, "e2", &a, after, POLICY)
            .await
            .unwrap(),
        RecoveryOutcome::Unknown
    );
    let b = keys().recovery_code_hash("ana", "BBBBB22222");
    assert_eq!(
        store
            .use_recovery_code(&ana, "e2", &b, after, POLICY)
            .await
            .unwrap(),
        RecoveryOutcome::Accepted { remaining: 0 }
    );
    assert!(
        store
            .enrollment(&ana, after)
            .await
            .unwrap()
            .unwrap()
            .recovery_hashes
            .is_empty()
    );

    // Replace on request; removal.
    assert_eq!(
        store
            .enroll(enrollment("ana", "e4", after), true, after)
            .await
            .unwrap(),
        EnrollAdmission::Enrolled
    );
    assert_eq!(
        store
            .accept_step(&ana, "e2", 300, after, POLICY)
            .await
            .unwrap(),
        StepOutcome::Gone
    );
    assert!(store.remove(&ana).await.unwrap());
    assert!(!store.remove(&ana).await.unwrap());
    assert!(store.enrollment(&ana, after).await.unwrap().is_none());

    // A pending enrolment lapses after its window; its recovery codes never worked.
    let bo = UserId::parse("bo").unwrap();
    store
        .enroll(enrollment("bo", "p1", at(0)), false, at(0))
        .await
        .unwrap();
    let bo_a = keys().recovery_code_hash("bo", "AAAAA11111");
    assert_eq!(
        store
            .use_recovery_code(&bo, "p1", &bo_a, at(10), POLICY)
            .await
            .unwrap(),
        RecoveryOutcome::Unknown,
        "no recovery before the authenticator is confirmed"
    );
    let lapsed = at(15 * 60);
    assert!(store.enrollment(&bo, lapsed).await.unwrap().is_none());
    assert_eq!(
        store
            .accept_step(&bo, "p1", 1, lapsed, POLICY)
            .await
            .unwrap(),
        StepOutcome::Gone
    );
    assert_eq!(
        store
            .count_failure(&bo, "p1", lapsed, POLICY)
            .await
            .unwrap(),
        FailureOutcome::Gone
    );

    // Twenty concurrent uses of one step: one acceptance.
    let cy = UserId::parse("cy").unwrap();
    store
        .enroll(enrollment("cy", "c1", at(0)), false, at(0))
        .await
        .unwrap();
    let outcomes =
        join_all((0..20).map(|_| store.accept_step(&cy, "c1", 500, at(1), POLICY))).await;
    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(StepOutcome::Accepted)))
        .count();
    let replayed = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(StepOutcome::Replayed)))
        .count();
    assert_eq!((accepted, replayed), (1, 19));

    // Twenty concurrent wrong codes: four counted, one lock, every other one refused by it.
    let outcomes = join_all((0..20).map(|_| store.count_failure(&cy, "c1", at(2), POLICY))).await;
    let mut counted: Vec<u32> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(FailureOutcome::Counted { attempts_remaining }) => Some(*attempts_remaining),
            _ => None,
        })
        .collect();
    counted.sort_unstable();
    assert_eq!(counted, [1, 2, 3, 4], "{outcomes:?}");
    let until = at(2) + POLICY.lock_for;
    assert!(
        outcomes
            .iter()
            .filter(|o| !matches!(o, Ok(FailureOutcome::Counted { .. })))
            .all(|o| matches!(o, Ok(FailureOutcome::Locked { until: u }) if *u == until)),
        "{outcomes:?}"
    );
    let locked = store.enrollment(&cy, at(3)).await.unwrap().unwrap();
    assert_eq!(
        (locked.failures, locked.lockouts, locked.locked_until),
        (0, 1, Some(until))
    );

    // An enrolment stored before locks escalated (failures at the limit, no lock end) stays
    // locked for the first lock's length after its last failure, then counts afresh.
    let di = UserId::parse("di").unwrap();
    let mut legacy = enrollment("di", "d1", at(0));
    legacy.pending_until = None;
    legacy.failures = 5;
    legacy.last_failure_at = Some(at(10));
    store.enroll(legacy, true, at(10)).await.unwrap();
    let until = at(10) + POLICY.lock_for;
    assert_eq!(
        store
            .accept_step(&di, "d1", 1, at(11), POLICY)
            .await
            .unwrap(),
        StepOutcome::Locked { until }
    );
    assert_eq!(
        store
            .count_failure(&di, "d1", at(11), POLICY)
            .await
            .unwrap(),
        FailureOutcome::Locked { until }
    );
    assert_eq!(
        store.count_failure(&di, "d1", until, POLICY).await.unwrap(),
        FailureOutcome::Counted {
            attempts_remaining: 4
        }
    );
    let restarted = store.enrollment(&di, until).await.unwrap().unwrap();
    assert_eq!((restarted.failures, restarted.lockouts), (1, 0));
}

/// Five wrong codes for `user`'s enrolment "e2": four at `first` (each counted), the last at `last`;
/// the last one's outcome.
async fn five_failures(
    store: &impl TotpStore,
    user: &UserId,
    first: OffsetDateTime,
    last: OffsetDateTime,
) -> FailureOutcome {
    for remaining in [4, 3, 2, 1] {
        assert_eq!(
            store
                .count_failure(user, "e2", first, POLICY)
                .await
                .unwrap(),
            FailureOutcome::Counted {
                attempts_remaining: remaining
            }
        );
    }
    store.count_failure(user, "e2", last, POLICY).await.unwrap()
}

#[tokio::test]
async fn the_memory_store_keeps_the_totp_contract() {
    contract(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dynamodb_store_keeps_the_totp_contract() {
    let emulator = Emulator::get().await;
    let store = emulator.store(crate::calls::dynamodb(&emulator.sdk)).await;
    contract(&store).await;
}

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

    // Five failures in a row lock; the lock ends 15 minutes after the last; a success resets.
    for remaining in [4, 3, 2, 1] {
        assert_eq!(
            store
                .count_failure(&ana, "e2", at(40), POLICY)
                .await
                .unwrap(),
            FailureOutcome::Counted {
                attempts_remaining: remaining
            }
        );
    }
    let until = at(41) + POLICY.lock_for;
    assert_eq!(
        store
            .count_failure(&ana, "e2", at(41), POLICY)
            .await
            .unwrap(),
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
        FailureOutcome::Locked { until }
    );
    let after = at(41 + 15 * 60);
    assert_eq!(
        store
            .count_failure(&ana, "e2", after, POLICY)
            .await
            .unwrap(),
        FailureOutcome::Counted {
            attempts_remaining: 4
        },
        "after the lock the count starts again"
    );
    assert_eq!(
        store
            .accept_step(&ana, "e2", 200, after, POLICY)
            .await
            .unwrap(),
        StepOutcome::Accepted
    );
    assert_eq!(
        store
            .enrollment(&ana, after)
            .await
            .unwrap()
            .unwrap()
            .failures,
        0
    );

    // Recovery codes: each once.
    let a = keys().recovery_code_hash("ana", "AAAAA11111");
    assert_eq!(
        store
            .use_recovery_code(&ana, "e2", &a, after, POLICY)
            .await
            .unwrap(),
        RecoveryOutcome::Accepted { remaining: 1 }
    );
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
}

#[tokio::test]
async fn the_memory_store_keeps_the_totp_contract() {
    contract(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dynamodb_store_keeps_the_totp_contract() {
    let emulator = Emulator::get().await;
    let store = emulator
        .store(aws_sdk_dynamodb::Client::new(&emulator.sdk))
        .await;
    contract(&store).await;
}

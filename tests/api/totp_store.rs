//! The TOTP store contract, run on both stores: the in-memory one and DynamoDB (the emulator).
//! Each call decides on the enrolment as just read, as the use case does.

use std::time::Duration;

use futures::future::join_all;
use otp_shared::ServiceSecret;
use otp_shared::adapters::{MemoryStore, OsRandomness};
use otp_shared::crypto::TotpSecret;
use otp_shared::crypto::{CodeHash, Keys};
use otp_shared::domain::{GuessBudget, GuessLock, NetworkKey, UserId};
use otp_shared::ports::{
    EnrollAdmission, Enrollment, FailureOutcome, RecoveryOutcome, StepOutcome, TotpStore,
};
use otp_shared::totp::TotpParams;
use time::OffsetDateTime;

use crate::helpers::Emulator;

/// The defaults: ten wrong codes in a row from one network, a first lock of 15 minutes, 100 a day.
const BUDGET: GuessBudget = GuessBudget {
    per_network: 10,
    lock_for: Duration::from_secs(15 * 60),
    per_destination: 100,
};

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
}

fn keys() -> Keys {
    Keys::derive(&ServiceSecret::parse("a service secret for the store contract tests").unwrap())
}

fn net(name: &str) -> NetworkKey {
    NetworkKey::parse(name).unwrap()
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
        guesses: Default::default(),
        guess_version: 0,
        recovery_hashes: ["AAAAA11111", "BBBBB22222"]
            .iter()
            .map(|code| keys.recovery_code_hash(user, code))
            .collect(),
    }
}

/// The enrolment as a verify for `id` reads it first: what is stored, named `id` (a request that
/// raced a re-enrolment names the one it was issued for), or a stand-in when nothing is stored.
async fn read(store: &impl TotpStore, user: &UserId, id: &str, now: OffsetDateTime) -> Enrollment {
    let mut read = store
        .enrollment(user, now)
        .await
        .unwrap()
        .unwrap_or_else(|| enrollment(user.as_str(), id, now));
    if read.enrollment_id != id {
        read = enrollment(user.as_str(), id, now);
    }
    read
}

async fn step(
    store: &impl TotpStore,
    user: &UserId,
    id: &str,
    step: u64,
    network: &NetworkKey,
    now: OffsetDateTime,
) -> StepOutcome {
    let read = read(store, user, id, now).await;
    store
        .accept_step(&read, step, network, &BUDGET, now)
        .await
        .unwrap()
}

async fn fail(
    store: &impl TotpStore,
    user: &UserId,
    id: &str,
    network: &NetworkKey,
    now: OffsetDateTime,
) -> FailureOutcome {
    let read = read(store, user, id, now).await;
    store
        .count_failure(&read, network, &BUDGET, now)
        .await
        .unwrap()
}

async fn recover(
    store: &impl TotpStore,
    user: &UserId,
    id: &str,
    hash: &CodeHash,
    network: &NetworkKey,
    now: OffsetDateTime,
) -> RecoveryOutcome {
    let read = read(store, user, id, now).await;
    store
        .use_recovery_code(&read, hash, network, &BUDGET, now)
        .await
        .unwrap()
}

/// Ten wrong codes from `network` for `user`'s enrolment "e2" at `now`: nine counted, the tenth's
/// outcome.
async fn ten_failures(
    store: &impl TotpStore,
    user: &UserId,
    network: &NetworkKey,
    now: OffsetDateTime,
) -> FailureOutcome {
    for remaining in (1..=9).rev() {
        assert_eq!(
            fail(store, user, "e2", network, now).await,
            FailureOutcome::Counted {
                attempts_remaining: remaining
            }
        );
    }
    fail(store, user, "e2", network, now).await
}

async fn contract(store: &impl TotpStore) {
    let ana = UserId::parse("ana").unwrap();
    let (attacker, home) = (net("a0"), net("b1"));

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
        step(store, &ana, "e1", 100, &home, at(3)).await,
        StepOutcome::Gone,
        "the replaced enrolment's codes no longer count"
    );
    assert_eq!(
        step(store, &ana, "e2", 100, &home, at(3)).await,
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
        step(store, &ana, "e2", 100, &home, at(6)).await,
        StepOutcome::Replayed
    );
    assert_eq!(
        step(store, &ana, "e2", 99, &home, at(6)).await,
        StepOutcome::Replayed
    );
    assert_eq!(
        step(store, &ana, "e2", 101, &home, at(31)).await,
        StepOutcome::Accepted
    );

    // Ten wrong codes from one network lock that network out for 15 minutes.
    let until = at(41) + BUDGET.lock_for;
    assert_eq!(
        ten_failures(store, &ana, &attacker, at(41)).await,
        FailureOutcome::LockStarted(GuessLock::Network { until })
    );
    assert_eq!(
        step(store, &ana, "e2", 102, &attacker, at(60)).await,
        StepOutcome::Locked { until },
        "not even the right code from the locked network"
    );
    let a = keys().recovery_code_hash("ana", "AAAAA11111");
    assert_eq!(
        recover(store, &ana, "e2", &a, &attacker, at(60)).await,
        RecoveryOutcome::Locked { until }
    );
    assert_eq!(
        fail(store, &ana, "e2", &attacker, at(60)).await,
        FailureOutcome::Locked { until },
        "a wrong code while locked is not counted"
    );
    let locked = store.enrollment(&ana, at(60)).await.unwrap().unwrap();
    assert_eq!(locked.guesses.locked_until(&attacker, at(60)), Some(until));
    assert_eq!(locked.guesses.locked_until(&home, at(60)), None);
    // The user, on their own network, is not locked out, and their success leaves the lock be.
    assert_eq!(
        fail(store, &ana, "e2", &home, at(61)).await,
        FailureOutcome::Counted {
            attempts_remaining: 9
        }
    );
    assert_eq!(
        step(store, &ana, "e2", 102, &home, at(62)).await,
        StepOutcome::Accepted
    );
    assert_eq!(
        fail(store, &ana, "e2", &attacker, at(63)).await,
        FailureOutcome::Locked { until }
    );

    // Each lock of that network after it is twice the one before, up to a day; the count starts
    // again after each.
    let mut now = until;
    for minutes in [30, 60, 120, 240, 480, 960, 1440, 1440] {
        let until = now + Duration::from_secs(minutes * 60);
        assert_eq!(
            ten_failures(store, &ana, &attacker, now).await,
            FailureOutcome::LockStarted(GuessLock::Network { until }),
            "the {minutes}-minute lock"
        );
        assert_eq!(
            step(
                store,
                &ana,
                "e2",
                1000,
                &attacker,
                until - Duration::from_secs(1)
            )
            .await,
            StepOutcome::Locked { until },
            "the right code, a second before the {minutes}-minute lock ends"
        );
        now = until;
    }

    // A success from the network resets its count and its escalation.
    assert_eq!(
        fail(store, &ana, "e2", &attacker, now).await,
        FailureOutcome::Counted {
            attempts_remaining: 9
        },
        "after the lock the count starts again"
    );
    assert_eq!(
        step(store, &ana, "e2", 200, &attacker, now).await,
        StepOutcome::Accepted
    );
    let until = now + BUDGET.lock_for;
    assert_eq!(
        ten_failures(store, &ana, &attacker, now).await,
        FailureOutcome::LockStarted(GuessLock::Network { until }),
        "after a success, fifteen minutes again"
    );
    now = until;
    let until = now + 2 * BUDGET.lock_for;
    assert_eq!(
        ten_failures(store, &ana, &attacker, now).await,
        FailureOutcome::LockStarted(GuessLock::Network { until })
    );
    now = until;
    // So does a recovery code: each once.
    assert_eq!(
        recover(store, &ana, "e2", &a, &attacker, now).await,
        RecoveryOutcome::Accepted { remaining: 1 }
    );
    assert_eq!(
        ten_failures(store, &ana, &attacker, now).await,
        FailureOutcome::LockStarted(GuessLock::Network {
            until: now + BUDGET.lock_for
        }),
        "after a recovery code, fifteen minutes again"
    );
    let after = now + BUDGET.lock_for;
    assert_eq!(
        recover(store, &ana, "e2", &a, &home, after).await,
        RecoveryOutcome::Unknown
    );
    let b = keys().recovery_code_hash("ana", "BBBBB22222");
    assert_eq!(
        recover(store, &ana, "e2", &b, &home, after).await,
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
        step(store, &ana, "e2", 300, &home, after).await,
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
        recover(store, &bo, "p1", &bo_a, &home, at(10)).await,
        RecoveryOutcome::Unknown,
        "no recovery before the authenticator is confirmed"
    );
    let lapsed = at(15 * 60);
    assert!(store.enrollment(&bo, lapsed).await.unwrap().is_none());
    assert_eq!(
        step(store, &bo, "p1", 1, &home, lapsed).await,
        StepOutcome::Gone
    );
    assert_eq!(
        fail(store, &bo, "p1", &home, lapsed).await,
        FailureOutcome::Gone
    );

    // Twenty concurrent uses of one step: one acceptance.
    let cy = UserId::parse("cy").unwrap();
    store
        .enroll(enrollment("cy", "e2", at(0)), false, at(0))
        .await
        .unwrap();
    let outcomes = join_all((0..20).map(|_| step(store, &cy, "e2", 500, &home, at(1)))).await;
    let accepted = outcomes
        .iter()
        .filter(|o| matches!(o, StepOutcome::Accepted))
        .count();
    let replayed = outcomes
        .iter()
        .filter(|o| matches!(o, StepOutcome::Replayed))
        .count();
    assert_eq!((accepted, replayed), (1, 19));

    // Twenty concurrent wrong codes from one network: nine counted, one lock, every other one
    // refused by it.
    let outcomes = join_all((0..20).map(|_| fail(store, &cy, "e2", &attacker, at(2)))).await;
    let mut counted: Vec<u32> = outcomes
        .iter()
        .filter_map(|o| match o {
            FailureOutcome::Counted { attempts_remaining } => Some(*attempts_remaining),
            _ => None,
        })
        .collect();
    counted.sort_unstable();
    assert_eq!(counted, [1, 2, 3, 4, 5, 6, 7, 8, 9], "{outcomes:?}");
    let until = at(2) + BUDGET.lock_for;
    let started = outcomes
        .iter()
        .filter(|o| **o == FailureOutcome::LockStarted(GuessLock::Network { until }))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| **o == FailureOutcome::Locked { until })
        .count();
    assert_eq!((started, refused), (1, 10), "{outcomes:?}");

    // A hundred wrong codes in a day from a hundred networks lock the user for everyone, until the
    // oldest hour leaves the window.
    let di = UserId::parse("di").unwrap();
    let mut active = enrollment("di", "e2", at(0));
    active.pending_until = None;
    store.enroll(active, false, at(0)).await.unwrap();
    let start = OffsetDateTime::from_unix_timestamp(1_800_003_600).unwrap();
    for i in 0..99u32 {
        let outcome = fail(store, &di, "e2", &net(&format!("{i:x}")), start).await;
        assert_eq!(
            outcome,
            FailureOutcome::Counted {
                attempts_remaining: (99 - i).min(9)
            },
            "failure {i}"
        );
    }
    let until = start + Duration::from_secs(25 * 3600);
    assert_eq!(
        fail(store, &di, "e2", &net("ffff"), start).await,
        FailureOutcome::LockStarted(GuessLock::Destination { until })
    );
    assert_eq!(
        step(store, &di, "e2", 1, &home, start).await,
        StepOutcome::Locked { until },
        "a network with no wrong code is locked out too"
    );
    let locked = store.enrollment(&di, start).await.unwrap().unwrap();
    assert_eq!(locked.guesses.locked_until, Some(until));
    assert_eq!(
        step(store, &di, "e2", 1, &home, until).await,
        StepOutcome::Accepted,
        "the window let go"
    );
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

/// An enrolment item written before the guess record: its user-wide lock holds for every network,
/// then its old count is dropped and counting starts afresh.
#[tokio::test]
async fn a_dynamodb_enrolment_from_before_the_guess_record_keeps_its_lock() {
    let emulator = Emulator::get().await;
    let client = crate::calls::dynamodb(&emulator.sdk);
    let store = emulator.store(client.clone()).await;
    let ed = UserId::parse("ed").unwrap();
    let mut active = enrollment("ed", "e2", at(0));
    active.pending_until = None;
    store.enroll(active, false, at(0)).await.unwrap();
    let until = at(10) + BUDGET.lock_for;
    let n = |v: i64| aws_sdk_dynamodb::types::AttributeValue::N(v.to_string());
    client
        .update_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("totp#ed".into()),
        )
        .update_expression(
            "SET failures = :zero, last_failure_ms = :last, lockouts = :one, locked_until_ms = :until",
        )
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":last", n(at(10).unix_timestamp() * 1000))
        .expression_attribute_values(":until", n(until.unix_timestamp() * 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(
        step(&store, &ed, "e2", 1, &net("b1"), at(11)).await,
        StepOutcome::Locked { until }
    );
    assert_eq!(
        fail(&store, &ed, "e2", &net("a0"), at(11)).await,
        FailureOutcome::Locked { until }
    );
    assert_eq!(
        fail(&store, &ed, "e2", &net("a0"), until).await,
        FailureOutcome::Counted {
            attempts_remaining: 9
        }
    );
    let item = client
        .get_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("totp#ed".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    for legacy in ["failures", "last_failure_ms", "lockouts", "locked_until_ms"] {
        assert!(!item.contains_key(legacy), "{legacy} is still there");
    }
}

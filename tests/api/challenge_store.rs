//! The challenge store contract, run on both stores: the in-memory one and DynamoDB (the emulator).
//! Each part of the contract is one function, run on a fresh store of each kind
//! (`challenge_store::memory::sends`, `challenge_store::dynamodb::sends`, …). Every call is given
//! its time, so the times the stores answer with are asserted exactly.

use std::sync::LazyLock;
use std::time::Duration;

use futures::future::join_all;
use otp_shared::ServiceSecret;
use otp_shared::adapters::OsRandomness;
use otp_shared::crypto::{IdempotentSend, Keys};
use otp_shared::domain::{
    ChallengeId, Channel, Destination, GuessBudget, GuessLock, NetworkKey, ProfileName, Purpose,
    Reference, Transaction,
};
use otp_shared::ports::{
    ApprovedChallenge, ChallengeStore, IdempotencyClaim, NewChallenge, Quota, QuotaKind,
    SendAdmission, SendPolicy, VerifyOutcome,
};
use time::OffsetDateTime;

/// A 30-second resend cooldown, and five sends to one destination in 15 minutes.
const POLICY: SendPolicy = SendPolicy {
    resend_cooldown: Duration::from_secs(30),
    max_sends: 5,
    window: Duration::from_secs(15 * 60),
};

/// The same cooldown and no cap that matters: for the parts that send many codes to one
/// destination.
const LENIENT: SendPolicy = SendPolicy {
    max_sends: 1000,
    ..POLICY
};

/// A code's lifetime (the longest a profile may give) and its attempts.
const LIFETIME: Duration = Duration::from_secs(10 * 60);
const MAX_ATTEMPTS: u32 = 5;

/// The code every challenge here is sent with, and a wrong one.
const CODE: &str = "246810";
const WRONG: &str = "135791";

/// The default budget: ten wrong codes in a row from one network, a first lock of 15 minutes, 100
/// wrong codes a day from all networks.
const BUDGET: GuessBudget = GuessBudget {
    per_network: 10,
    lock_for: Duration::from_secs(15 * 60),
    per_destination: 100,
};

/// How long a send holds its idempotency key.
const LEASE: Duration = Duration::from_secs(30);

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    Keys::derive(
        &ServiceSecret::parse("a service secret for the challenge store contract").unwrap(),
    )
});

/// `seconds` after a fixed instant that starts a clock hour (1 800 000 000 s is 500 000 hours), so
/// the guess budget's hourly buckets begin at `at(0)`, `at(3600)`, …
fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
}

fn net(name: &str) -> NetworkKey {
    NetworkKey::parse(name).unwrap()
}

/// The network the destination's user asks from.
fn home() -> NetworkKey {
    net("b1")
}

/// The `n`th of many networks, each with one wrong code (hex, so never "b1", "a0", "c2" or "eee").
fn nth_network(n: u32) -> NetworkKey {
    net(&format!("{n:x}"))
}

/// A code for the mailbox `to`@example.com and `purpose`, asked for at `now` from [`home`], as the
/// send use case builds it: [`CODE`]'s keyed hash, the address sealed, [`LIFETIME`],
/// [`MAX_ATTEMPTS`], the default profile and budget.
fn challenge(to: &str, purpose: &str, now: OffsetDateTime) -> NewChallenge {
    let id = ChallengeId::generate(&OsRandomness);
    let destination = Destination::parse(Channel::Email, &format!("{to}@example.com")).unwrap();
    NewChallenge {
        destination: KEYS.destination_key(&destination.recipient()),
        purpose: Purpose::parse(purpose).unwrap(),
        code_hash: KEYS.code_hash(id.as_str(), CODE),
        channel: Channel::Email,
        masked_to: destination.masked(),
        sealed_to: KEYS.destination_sealer().seal_bytes(
            id.as_str().as_bytes(),
            destination.address().as_bytes(),
            &OsRandomness,
        ),
        reference: None,
        profile: ProfileName::default(),
        transaction: None,
        created_at: now,
        expires_at: now + LIFETIME,
        max_attempts: MAX_ATTEMPTS,
        guess_budget: BUDGET,
        network: home(),
        country: None,
        id,
    }
}

/// The same code, asked for from `network`.
fn from(network: &NetworkKey, challenge: NewChallenge) -> NewChallenge {
    NewChallenge {
        network: network.clone(),
        ..challenge
    }
}

async fn send(
    store: &impl ChallengeStore,
    challenge: &NewChallenge,
    policy: SendPolicy,
) -> SendAdmission {
    charged(store, challenge, policy, &[]).await
}

async fn charged(
    store: &impl ChallengeStore,
    challenge: &NewChallenge,
    policy: SendPolicy,
    quotas: &[Quota],
) -> SendAdmission {
    store
        .begin(challenge.clone(), policy, quotas)
        .await
        .unwrap()
}

/// What admitting `challenge` answers: the next send for its purpose after the cooldown.
fn admitted(challenge: &NewChallenge) -> SendAdmission {
    SendAdmission::Admitted {
        resend_at: challenge.created_at + POLICY.resend_cooldown,
    }
}

/// `code`, typed for `challenge` from `network` at `now`.
async fn verify(
    store: &impl ChallengeStore,
    challenge: &NewChallenge,
    code: &str,
    network: &NetworkKey,
    now: OffsetDateTime,
) -> VerifyOutcome {
    store
        .verify(
            &challenge.id,
            &KEYS.code_hash(challenge.id.as_str(), code),
            network,
            now,
        )
        .await
        .unwrap()
}

/// The approval of `challenge`: what its send stored, given back.
fn approved(challenge: &NewChallenge) -> VerifyOutcome {
    VerifyOutcome::Approved(Box::new(ApprovedChallenge {
        purpose: challenge.purpose.clone(),
        reference: challenge.reference.clone(),
        profile: challenge.profile.clone(),
        transaction: challenge.transaction.clone(),
        channel: challenge.channel,
        masked_to: challenge.masked_to.clone(),
        sealed_to: challenge.sealed_to.clone(),
        message_id: None,
        country: challenge.country,
    }))
}

/// A wrong code that started no lock.
fn incorrect(attempts_remaining: u32) -> VerifyOutcome {
    VerifyOutcome::Incorrect {
        attempts_remaining,
        lock: None,
    }
}

fn holder() -> ChallengeId {
    ChallengeId::generate(&OsRandomness)
}

async fn claim(
    store: &impl ChallengeStore,
    send: &IdempotentSend,
    holder: &ChallengeId,
    now: OffsetDateTime,
) -> IdempotencyClaim {
    store
        .claim_idempotency(send, holder, now, now + LEASE)
        .await
        .unwrap()
}

async fn settle(
    store: &impl ChallengeStore,
    send: &IdempotentSend,
    holder: &ChallengeId,
    reply: Option<&str>,
    keep_until: OffsetDateTime,
) {
    store
        .settle_idempotency(send, holder, reply, keep_until)
        .await
        .unwrap();
}

/// How many of `outcomes` equal `expected`.
fn count<T: PartialEq>(outcomes: &[T], expected: &T) -> usize {
    outcomes.iter().filter(|o| *o == expected).count()
}

/// The cooldown per destination and purpose, replacement, and the cap per destination; a refused
/// send records nothing.
async fn sends(store: &impl ChallengeStore) {
    let first = challenge("ana", "login", at(0));
    assert_eq!(
        send(store, &first, POLICY).await,
        SendAdmission::Admitted { resend_at: at(30) }
    );
    let too_soon = challenge("ana", "login", at(10));
    assert_eq!(
        send(store, &too_soon, POLICY).await,
        SendAdmission::CoolingDown { retry_at: at(30) }
    );
    assert_eq!(
        verify(store, &too_soon, CODE, &home(), at(11)).await,
        VerifyOutcome::NotFound,
        "a refused send records no code"
    );

    // The cooldown ends at `retry_at` itself; the new code replaces the pending one.
    let second = challenge("ana", "login", at(30));
    assert_eq!(
        send(store, &second, POLICY).await,
        SendAdmission::Admitted { resend_at: at(60) }
    );
    assert_eq!(
        verify(store, &first, CODE, &home(), at(31)).await,
        VerifyOutcome::Expired,
        "the replaced code no longer works, not even its right code"
    );

    // Another purpose has its own cooldown and its own pending code, beside the login one.
    let payment = challenge("ana", "payment", at(40));
    assert_eq!(
        send(store, &payment, POLICY).await,
        SendAdmission::Admitted { resend_at: at(70) }
    );
    assert_eq!(
        verify(store, &second, CODE, &home(), at(41)).await,
        approved(&second)
    );
    assert_eq!(
        verify(store, &payment, CODE, &home(), at(41)).await,
        approved(&payment)
    );

    // Five sends in 15 minutes, whatever their purpose (at 0, 30, 40, 50, 60; not the refused one
    // at 10): the next waits until the oldest leaves the window.
    for (purpose, seconds) in [("signup", 50), ("reset", 60)] {
        let c = challenge("ana", purpose, at(seconds));
        assert_eq!(send(store, &c, POLICY).await, admitted(&c));
    }
    for seconds in [100, 899] {
        assert_eq!(
            send(store, &challenge("ana", "welcome", at(seconds)), POLICY).await,
            SendAdmission::CapReached { retry_at: at(900) },
            "at {seconds} s"
        );
    }
    let welcome = challenge("ana", "welcome", at(900));
    assert_eq!(
        send(store, &welcome, POLICY).await,
        admitted(&welcome),
        "the send at 0 has left the window, and the refused sends were never in it"
    );
    assert_eq!(
        send(store, &challenge("ana", "survey", at(901)), POLICY).await,
        SendAdmission::CapReached { retry_at: at(930) },
        "the send at 30 is now the oldest"
    );

    // Another destination is counted apart.
    let other = challenge("bo", "welcome", at(901));
    assert_eq!(send(store, &other, POLICY).await, admitted(&other));
}

/// A counter in shards is as exact as one item: every unit of its limit is used, by one-unit and
/// larger charges alike (split across shards at the end), and none past it.
async fn sharded_quotas(store: &impl ChallengeStore) {
    let hour_ends = at(3600);
    let counted = Quota {
        kind: QuotaKind::Country,
        counter: "country#44#shards".to_owned(),
        amount: 1,
        limit: 37,
        resets_at: hour_ends,
        shards: 16,
    };
    for n in 0..37 {
        let c = challenge(&format!("sh{n}"), "login", at(0));
        assert_eq!(
            charged(store, &c, POLICY, std::slice::from_ref(&counted)).await,
            admitted(&c),
            "send {n} of 37"
        );
    }
    let full = SendAdmission::OverQuota {
        kind: QuotaKind::Country,
        retry_at: hour_ends,
    };
    let c = challenge("sh37", "login", at(0));
    assert_eq!(charged(store, &c, POLICY, &[counted]).await, full);

    // A spend of 1,000 in four shards (250 each), charged 300 at a time: three sends (one split
    // across shards), then 100 is left, which a charge of 100 takes, and then nothing.
    let spend = |amount| Quota {
        kind: QuotaKind::SmsBudget,
        counter: "spend#shards".to_owned(),
        amount,
        limit: 1_000,
        resets_at: hour_ends,
        shards: 4,
    };
    let over_budget = SendAdmission::OverQuota {
        kind: QuotaKind::SmsBudget,
        retry_at: hour_ends,
    };
    for n in 0..3 {
        let c = challenge(&format!("sp{n}"), "login", at(0));
        assert_eq!(
            charged(store, &c, POLICY, &[spend(300)]).await,
            admitted(&c),
            "{n}"
        );
    }
    let c = challenge("sp3", "login", at(0));
    assert_eq!(charged(store, &c, POLICY, &[spend(300)]).await, over_budget);
    let c = challenge("sp4", "login", at(0));
    assert_eq!(
        charged(store, &c, POLICY, &[spend(100)]).await,
        admitted(&c)
    );
    let c = challenge("sp5", "login", at(0));
    assert_eq!(charged(store, &c, POLICY, &[spend(1)]).await, over_budget);
}

/// Quota counters: charged by admitted sends only, up to their limit; a send over any of them is
/// neither recorded nor charged to the others.
async fn quotas(store: &impl ChallengeStore) {
    let hour_ends = at(3600);
    let quota = |kind, counter: &str, amount, limit| Quota {
        kind,
        counter: counter.to_owned(),
        amount,
        limit,
        resets_at: hour_ends,
        shards: 1,
    };
    let country = quota(QuotaKind::Country, "country#44#h0", 1, 7);
    let global = quota(QuotaKind::Global, "global#h0", 1, 2);
    let both = [country.clone(), global.clone()];
    for (to, second) in [("q1", 0), ("q2", 1)] {
        let c = challenge(to, "login", at(second));
        assert_eq!(charged(store, &c, POLICY, &both).await, admitted(&c));
    }

    // `global` is full (2 of 2); `country` (2 of 7) has room, and is not charged either.
    let refused = challenge("q3", "login", at(2));
    assert_eq!(
        charged(store, &refused, POLICY, &both).await,
        SendAdmission::OverQuota {
            kind: QuotaKind::Global,
            retry_at: hour_ends
        }
    );
    assert_eq!(
        verify(store, &refused, CODE, &home(), at(3)).await,
        VerifyOutcome::NotFound,
        "the refused send recorded no code"
    );
    let retried = challenge("q3", "login", at(3));
    assert_eq!(
        charged(store, &retried, POLICY, std::slice::from_ref(&country)).await,
        admitted(&retried),
        "the refused send started no cooldown"
    );
    // `country` stands at 3 of 7 (had the refused send charged it, at 4): 4 more fit exactly.
    let four = Quota {
        amount: 4,
        ..country.clone()
    };
    let c = challenge("q4", "login", at(4));
    assert_eq!(charged(store, &c, POLICY, &[four]).await, admitted(&c));
    assert_eq!(
        charged(store, &challenge("q5", "login", at(5)), POLICY, &[country]).await,
        SendAdmission::OverQuota {
            kind: QuotaKind::Country,
            retry_at: hour_ends
        }
    );

    // A send refused by its cooldown is not charged either.
    let client = quota(QuotaKind::ClientAddress, "client#ab#h0", 1, 1);
    let one = std::slice::from_ref(&client);
    assert_eq!(
        charged(store, &challenge("q1", "login", at(6)), POLICY, one).await,
        SendAdmission::CoolingDown { retry_at: at(30) }
    );
    let c = challenge("q6", "login", at(7));
    assert_eq!(charged(store, &c, POLICY, one).await, admitted(&c));
    assert_eq!(
        charged(store, &challenge("q7", "login", at(8)), POLICY, one).await,
        SendAdmission::OverQuota {
            kind: QuotaKind::ClientAddress,
            retry_at: hour_ends
        }
    );

    // A charge larger than the whole limit never fits.
    let spend = quota(QuotaKind::SmsBudget, "spend#d0", 5, 4);
    assert_eq!(
        charged(store, &challenge("q8", "login", at(9)), POLICY, &[spend]).await,
        SendAdmission::OverQuota {
            kind: QuotaKind::SmsBudget,
            retry_at: hour_ends
        }
    );

    // The next window's counter (its key names the window) starts from zero.
    let next_hour = Quota {
        counter: "global#h1".to_owned(),
        resets_at: at(7200),
        ..global
    };
    let c = challenge("q9", "login", hour_ends);
    assert_eq!(charged(store, &c, POLICY, &[next_hour]).await, admitted(&c));
}

/// Every verify outcome: approved (once), consumed, incorrect counting down, locked, expired (at
/// `expires_at` exactly), not found.
async fn verify_outcomes(store: &impl ChallengeStore) {
    let payment = NewChallenge {
        reference: Some(Reference::parse("order-1").unwrap()),
        profile: ProfileName::parse("checkout").unwrap(),
        transaction: Some(Transaction::parse("12.50", "EUR", "Example Shop").unwrap()),
        ..challenge("cy", "payment", at(0))
    };
    assert_eq!(send(store, &payment, POLICY).await, admitted(&payment));
    assert_eq!(
        verify(store, &payment, CODE, &home(), at(1)).await,
        approved(&payment),
        "the approval gives back what the send stored"
    );
    // Approved once; after that, right or wrong, even past its expiry, it is consumed.
    for (code, now) in [(CODE, at(2)), (WRONG, at(2)), (CODE, payment.expires_at)] {
        assert_eq!(
            verify(store, &payment, code, &home(), now).await,
            VerifyOutcome::Consumed
        );
    }

    // Wrong codes count down the code's attempts; after the last, not even the right code works.
    let guessed = challenge("cy", "login", at(0));
    assert_eq!(send(store, &guessed, POLICY).await, admitted(&guessed));
    for remaining in (0..MAX_ATTEMPTS).rev() {
        assert_eq!(
            verify(store, &guessed, WRONG, &home(), at(10)).await,
            incorrect(remaining)
        );
    }
    for code in [CODE, WRONG] {
        assert_eq!(
            verify(store, &guessed, code, &home(), at(11)).await,
            VerifyOutcome::Locked
        );
    }

    // A code works until a second before `expires_at`; from then on it has expired.
    let expiring = challenge("dee", "login", at(0));
    assert_eq!(send(store, &expiring, POLICY).await, admitted(&expiring));
    let last_second = expiring.expires_at - Duration::from_secs(1);
    assert_eq!(
        verify(store, &expiring, WRONG, &home(), last_second).await,
        incorrect(MAX_ATTEMPTS - 1)
    );
    for code in [CODE, WRONG] {
        assert_eq!(
            verify(store, &expiring, code, &home(), expiring.expires_at).await,
            VerifyOutcome::Expired
        );
    }
    assert_eq!(
        verify(store, &guessed, CODE, &home(), guessed.expires_at).await,
        VerifyOutcome::Expired,
        "a locked code past its expiry reads expired"
    );
    let late = expiring.expires_at + Duration::from_secs(10 * 60);
    assert_eq!(
        verify(store, &expiring, CODE, &home(), late).await,
        VerifyOutcome::Expired,
        "ten minutes on, still expired"
    );

    // An id no send returned.
    let unknown = challenge("cy", "login", at(20));
    assert_eq!(
        verify(store, &unknown, CODE, &home(), at(20)).await,
        VerifyOutcome::NotFound
    );
}

/// A withdrawn code (its delivery failed) no longer works, and its send still counts toward the cap.
/// A message id kept after the send, and the destination's country, come back with the approval
/// (its one write reads them); noting a message for a code that is gone changes nothing.
async fn message_ids(store: &impl ChallengeStore) {
    let call = NewChallenge {
        channel: Channel::Voice,
        country: Some(otp_shared::domain::Region::parse("GB").unwrap()),
        ..challenge("fay", "login", at(0))
    };
    assert_eq!(send(store, &call, POLICY).await, admitted(&call));
    store.note_message(&call.id, "msg-0123").await.unwrap();
    let VerifyOutcome::Approved(kept) = verify(store, &call, CODE, &home(), at(1)).await else {
        panic!("not approved");
    };
    assert_eq!(kept.message_id.as_deref(), Some("msg-0123"));
    assert_eq!(
        kept.country.map(|c| c.as_str().to_owned()).as_deref(),
        Some("GB")
    );
    assert_eq!(kept.channel, Channel::Voice);

    let plain = challenge("fay", "payment", at(1));
    assert_eq!(send(store, &plain, POLICY).await, admitted(&plain));
    assert_eq!(
        verify(store, &plain, CODE, &home(), at(2)).await,
        approved(&plain)
    );
    let unknown = challenge("fay", "reset", at(2));
    store.note_message(&unknown.id, "msg-9").await.unwrap();
    assert_eq!(
        verify(store, &unknown, CODE, &home(), at(3)).await,
        VerifyOutcome::NotFound,
        "noting a message made no code"
    );
}

async fn withdrawal(store: &impl ChallengeStore) {
    let withdrawn = challenge("ed", "login", at(0));
    assert_eq!(send(store, &withdrawn, POLICY).await, admitted(&withdrawn));
    store.withdraw(&withdrawn.id, at(1)).await.unwrap();
    assert_eq!(
        verify(store, &withdrawn, CODE, &home(), at(2)).await,
        VerifyOutcome::Expired
    );
    // Withdrawing again, or an id no send returned, changes nothing.
    store.withdraw(&withdrawn.id, at(3)).await.unwrap();
    let unknown = challenge("ed", "login", at(3));
    store.withdraw(&unknown.id, at(3)).await.unwrap();
    assert_eq!(
        verify(store, &withdrawn, CODE, &home(), at(3)).await,
        VerifyOutcome::Expired
    );
    assert_eq!(
        verify(store, &unknown, CODE, &home(), at(3)).await,
        VerifyOutcome::NotFound
    );

    // A code already approved stays consumed.
    let used = challenge("ed", "payment", at(1));
    assert_eq!(send(store, &used, POLICY).await, admitted(&used));
    assert_eq!(
        verify(store, &used, CODE, &home(), at(2)).await,
        approved(&used)
    );
    store.withdraw(&used.id, at(3)).await.unwrap();
    assert_eq!(
        verify(store, &used, CODE, &home(), at(4)).await,
        VerifyOutcome::Consumed
    );

    // Five sends in the window, the withdrawn one among them.
    for (purpose, second) in [("signup", 2), ("reset", 3), ("welcome", 4)] {
        let c = challenge("ed", purpose, at(second));
        assert_eq!(send(store, &c, POLICY).await, admitted(&c));
    }
    assert_eq!(
        send(store, &challenge("ed", "survey", at(5)), POLICY).await,
        SendAdmission::CapReached { retry_at: at(900) },
        "the withdrawn send still counts"
    );
}

/// An idempotency key: held by one send under its lease, completed with a reply kept until
/// `keep_until`, released by its holder, taken over once the lease has run out; bound to its request.
async fn idempotency(store: &impl ChallengeStore) {
    let request = IdempotentSend {
        slot: "slot-1".to_owned(),
        fingerprint: "request-a".to_owned(),
    };
    let other_request = IdempotentSend {
        fingerprint: "request-b".to_owned(),
        ..request.clone()
    };
    let (first, second) = (holder(), holder());

    assert_eq!(
        claim(store, &request, &first, at(0)).await,
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        claim(store, &request, &second, at(10)).await,
        IdempotencyClaim::InProgress { retry_at: at(30) }
    );
    assert_eq!(
        claim(store, &other_request, &second, at(10)).await,
        IdempotencyClaim::Mismatch,
        "the key is bound to its request, under way or not"
    );

    // Completed: the reply is replayed until `keep_until`, and nobody can settle the key again.
    settle(store, &request, &first, Some("reply-1"), at(1000)).await;
    let completed = IdempotencyClaim::Completed {
        reply: "reply-1".to_owned(),
    };
    assert_eq!(claim(store, &request, &second, at(20)).await, completed);
    assert_eq!(
        claim(store, &other_request, &second, at(20)).await,
        IdempotencyClaim::Mismatch
    );
    settle(store, &request, &first, None, at(0)).await;
    settle(store, &request, &second, Some("not the holder"), at(2000)).await;
    assert_eq!(claim(store, &request, &second, at(999)).await, completed);
    assert_eq!(
        claim(store, &request, &second, at(1000)).await,
        IdempotencyClaim::Claimed,
        "the record is kept until `keep_until`, not after"
    );

    // Released by its holder (its send was refused or failed): free at once.
    settle(store, &request, &second, None, at(0)).await;
    assert_eq!(
        claim(store, &request, &first, at(1001)).await,
        IdempotencyClaim::Claimed
    );

    // A lease ends at `lease_until`: another send takes the key over, and the stalled holder can no
    // longer settle it, with a reply or without.
    assert_eq!(
        claim(store, &request, &second, at(1030)).await,
        IdempotencyClaim::InProgress { retry_at: at(1031) }
    );
    assert_eq!(
        claim(store, &request, &second, at(1031)).await,
        IdempotencyClaim::Claimed
    );
    settle(store, &request, &first, Some("stale"), at(2000)).await;
    settle(store, &request, &first, None, at(0)).await;
    assert_eq!(
        claim(store, &request, &first, at(1040)).await,
        IdempotencyClaim::InProgress { retry_at: at(1061) }
    );
    settle(store, &request, &second, Some("reply-2"), at(2000)).await;
    assert_eq!(
        claim(store, &request, &first, at(1050)).await,
        IdempotencyClaim::Completed {
            reply: "reply-2".to_owned()
        }
    );

    // Once the record has expired, the key is free for any request.
    assert_eq!(
        claim(store, &other_request, &first, at(2000)).await,
        IdempotencyClaim::Claimed
    );
    // Another slot is another key.
    let elsewhere = IdempotentSend {
        slot: "slot-2".to_owned(),
        ..request
    };
    assert_eq!(
        claim(store, &elsewhere, &second, at(2000)).await,
        IdempotencyClaim::Claimed
    );
}

/// The guess budget per network (issue 10): ten wrong codes in a row from one network, across the
/// destination's codes, lock that network out of the destination (its verifies and its sends) for
/// 15 minutes, then twice as long; a right code from the network resets its count and escalation.
async fn network_guess_budget(store: &impl ChallengeStore) {
    let (attacker, other) = (net("a0"), net("c2"));
    let [login, payment, signup] =
        [("login", 0), ("payment", 1), ("signup", 2)].map(|(p, s)| challenge("fay", p, at(s)));
    for c in [&login, &payment, &signup] {
        assert_eq!(send(store, c, LENIENT).await, admitted(c));
    }

    // Five wrong codes use up the login code; its own refusals after that are not guesses.
    let now = at(10);
    for remaining in (0..MAX_ATTEMPTS).rev() {
        assert_eq!(
            verify(store, &login, WRONG, &attacker, now).await,
            incorrect(remaining)
        );
    }
    assert_eq!(
        verify(store, &login, WRONG, &attacker, now).await,
        VerifyOutcome::Locked
    );
    for remaining in (1..MAX_ATTEMPTS).rev() {
        assert_eq!(
            verify(store, &payment, WRONG, &attacker, now).await,
            incorrect(remaining)
        );
    }
    let until = now + BUDGET.lock_for;
    assert_eq!(
        verify(store, &payment, WRONG, &attacker, now).await,
        VerifyOutcome::Incorrect {
            attempts_remaining: 0,
            lock: Some(GuessLock::Network { until })
        },
        "the tenth wrong code in a row"
    );

    // Locked out: no code of the destination is checked for that network, not even a right one,
    // and it is sent none (nor is anything recorded for it).
    for code in [CODE, WRONG] {
        assert_eq!(
            verify(store, &signup, code, &attacker, at(11)).await,
            VerifyOutcome::LockedOut { until }
        );
    }
    assert_eq!(
        verify(store, &login, CODE, &attacker, at(11)).await,
        VerifyOutcome::Locked,
        "a code's own lock is reported first"
    );
    let refused = from(&attacker, challenge("fay", "reset", at(12)));
    assert_eq!(
        send(store, &refused, LENIENT).await,
        SendAdmission::LockedOut { until }
    );
    assert_eq!(
        verify(store, &refused, CODE, &home(), at(12)).await,
        VerifyOutcome::NotFound
    );

    // Other networks are not locked out: they are sent codes and verify them; a code sent now is
    // closed to the locked network too.
    let reset = challenge("fay", "reset", at(13));
    assert_eq!(send(store, &reset, LENIENT).await, admitted(&reset));
    assert_eq!(
        verify(store, &reset, CODE, &attacker, at(14)).await,
        VerifyOutcome::LockedOut { until }
    );
    assert_eq!(
        verify(store, &reset, CODE, &home(), at(14)).await,
        approved(&reset)
    );

    // A right code resets its network's count: nine wrong codes, a right one, then a wrong one
    // starts no lock (without the reset it would be the tenth in a row).
    let [welcome, survey] =
        [("welcome", 20), ("survey", 21)].map(|(p, s)| from(&other, challenge("fay", p, at(s))));
    for c in [&welcome, &survey] {
        assert_eq!(send(store, c, LENIENT).await, admitted(c));
    }
    for remaining in (0..MAX_ATTEMPTS).rev() {
        assert_eq!(
            verify(store, &welcome, WRONG, &other, at(22)).await,
            incorrect(remaining)
        );
    }
    for remaining in (1..MAX_ATTEMPTS).rev() {
        assert_eq!(
            verify(store, &survey, WRONG, &other, at(22)).await,
            incorrect(remaining)
        );
    }
    assert_eq!(
        verify(store, &survey, CODE, &other, at(23)).await,
        approved(&survey)
    );
    assert_eq!(
        verify(store, &signup, WRONG, &other, at(24)).await,
        incorrect(MAX_ATTEMPTS - 1)
    );

    // The lock ends at `until`. The network's next ten wrong codes lock it for twice as long.
    assert_eq!(
        send(
            store,
            &from(
                &attacker,
                challenge("fay", "login", until - Duration::from_secs(1))
            ),
            LENIENT
        )
        .await,
        SendAdmission::LockedOut { until }
    );
    let again = [("login", until), ("payment", until)]
        .map(|(p, t)| from(&attacker, challenge("fay", p, t)));
    for c in &again {
        assert_eq!(send(store, c, LENIENT).await, admitted(c));
    }
    let second_until = until + 2 * BUDGET.lock_for;
    assert_eq!(
        ten_wrong_codes(store, &again, &attacker, until).await,
        Some(GuessLock::Network {
            until: second_until
        })
    );

    // After it, a right code from the network (sent to it while its lockouts were counted) resets
    // its escalation too: its next lock is 15 minutes again.
    let now = second_until;
    let forgiven = [("login", now), ("payment", now), ("signup", now)]
        .map(|(p, t)| from(&attacker, challenge("fay", p, t)));
    for c in &forgiven {
        assert_eq!(send(store, c, LENIENT).await, admitted(c));
    }
    assert_eq!(
        verify(store, &forgiven[0], CODE, &attacker, now).await,
        approved(&forgiven[0])
    );
    assert_eq!(
        ten_wrong_codes(store, &forgiven[1..], &attacker, now).await,
        Some(GuessLock::Network {
            until: now + BUDGET.lock_for
        })
    );
}

/// Ten wrong codes from `network` at `now`, five on each of two fresh codes: the lock the tenth
/// started (the nine before it start none).
async fn ten_wrong_codes(
    store: &impl ChallengeStore,
    codes: &[NewChallenge],
    network: &NetworkKey,
    now: OffsetDateTime,
) -> Option<GuessLock> {
    assert_eq!(codes.len(), 2);
    let mut outcomes = Vec::new();
    for code in codes {
        for _ in 0..MAX_ATTEMPTS {
            outcomes.push(verify(store, code, WRONG, network, now).await);
        }
    }
    let last = outcomes.pop().unwrap();
    let expected: Vec<_> = (0..2)
        .flat_map(|_| (0..MAX_ATTEMPTS).rev().map(incorrect))
        .take(9)
        .collect();
    assert_eq!(outcomes, expected);
    match last {
        VerifyOutcome::Incorrect {
            attempts_remaining: 0,
            lock,
        } => lock,
        other => panic!("the tenth wrong code: {other:?}"),
    }
}

/// The guess budget per destination: the 100th wrong code from all networks within a day locks the
/// destination for everyone until the window frees (its oldest counted hour leaves it).
async fn destination_guess_budget(store: &impl ChallengeStore) {
    // Codes with room for many attempts, so the destination's budget is reached before theirs.
    let roomy = |purpose, now| NewChallenge {
        max_attempts: 50,
        ..challenge("gus", purpose, now)
    };
    // Half past the first hour: 30 networks, one wrong code each.
    let first_hour = roomy("login", at(1800));
    assert_eq!(
        send(store, &first_hour, LENIENT).await,
        admitted(&first_hour)
    );
    for n in 0..30 {
        assert_eq!(
            verify(store, &first_hour, WRONG, &nth_network(n), at(1800)).await,
            incorrect(49 - n)
        );
    }
    // Ten past the next hour, two codes (the login one replaced): 70 more networks.
    let [login, payment] = ["login", "payment"].map(|p| roomy(p, at(4200)));
    for c in [&login, &payment] {
        assert_eq!(send(store, c, LENIENT).await, admitted(c));
    }
    for n in 30..80 {
        assert_eq!(
            verify(store, &login, WRONG, &nth_network(n), at(4200)).await,
            incorrect(79 - n)
        );
    }
    for n in 80..99 {
        assert_eq!(
            verify(store, &payment, WRONG, &nth_network(n), at(4200)).await,
            incorrect(129 - n)
        );
    }
    // The window frees when the first hour's 30 leave it: 25 hours after that hour began (whole
    // hours are counted, so the window is never shorter than a day).
    let until = at(25 * 3600);
    assert_eq!(
        verify(store, &payment, WRONG, &nth_network(99), at(4200)).await,
        VerifyOutcome::Incorrect {
            attempts_remaining: 30,
            lock: Some(GuessLock::Destination { until })
        },
        "the hundredth wrong code in the window"
    );

    // Everyone is locked out, networks that never guessed too: no code is checked, none is sent.
    let newcomer = net("eee");
    for network in [&newcomer, &home()] {
        assert_eq!(
            verify(store, &payment, CODE, network, at(4201)).await,
            VerifyOutcome::LockedOut { until }
        );
    }
    assert_eq!(
        send(
            store,
            &from(
                &newcomer,
                challenge("gus", "reset", until - Duration::from_secs(1))
            ),
            LENIENT
        )
        .await,
        SendAdmission::LockedOut { until }
    );
    // Until the window lets go.
    let after = from(&newcomer, challenge("gus", "reset", until));
    assert_eq!(send(store, &after, LENIENT).await, admitted(&after));
    assert_eq!(
        verify(store, &after, CODE, &newcomer, until).await,
        approved(&after)
    );
}

/// Each operation is atomic: concurrent verifies, sends, charges and claims cannot slip between a
/// check and a write.
async fn concurrency(store: &impl ChallengeStore) {
    let home = home();
    // Twenty verifies of the right code at once: one approval.
    let c = challenge("hal", "login", at(0));
    assert_eq!(send(store, &c, POLICY).await, admitted(&c));
    let outcomes = join_all((0..20).map(|_| verify(store, &c, CODE, &home, at(1)))).await;
    assert_eq!(
        (
            count(&outcomes, &approved(&c)),
            count(&outcomes, &VerifyOutcome::Consumed)
        ),
        (1, 19),
        "{outcomes:?}"
    );

    // Twenty wrong codes at once: each of the code's five attempts counted once, then locked.
    let c = challenge("hal", "payment", at(0));
    assert_eq!(send(store, &c, POLICY).await, admitted(&c));
    let outcomes = join_all((0..20).map(|_| verify(store, &c, WRONG, &home, at(1)))).await;
    let mut remaining: Vec<u32> = outcomes
        .iter()
        .filter_map(|o| match o {
            VerifyOutcome::Incorrect {
                attempts_remaining,
                lock: None,
            } => Some(*attempts_remaining),
            _ => None,
        })
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, [0, 1, 2, 3, 4], "{outcomes:?}");
    assert_eq!(count(&outcomes, &VerifyOutcome::Locked), 15, "{outcomes:?}");

    // Five sends at once for one destination and purpose: one admitted, and its code alone works.
    let racing: Vec<_> = (0..5).map(|_| challenge("ivy", "login", at(0))).collect();
    let outcomes = join_all(racing.iter().map(|c| send(store, c, POLICY))).await;
    assert_eq!(
        (
            count(&outcomes, &SendAdmission::Admitted { resend_at: at(30) }),
            count(&outcomes, &SendAdmission::CoolingDown { retry_at: at(30) })
        ),
        (1, 4),
        "{outcomes:?}"
    );
    let verified = join_all(racing.iter().map(|c| verify(store, c, CODE, &home, at(1)))).await;
    assert_eq!(
        count(&verified, &VerifyOutcome::NotFound),
        4,
        "{verified:?}"
    );

    // Ten sends at once to ten destinations, charged to one counter with room for three, in
    // sixteen shards (three of them with room for one): never more than three.
    let quota = [Quota {
        kind: QuotaKind::Global,
        counter: "global#race".to_owned(),
        amount: 1,
        limit: 3,
        resets_at: at(3600),
        shards: 16,
    }];
    let racing: Vec<_> = (0..10)
        .map(|n| challenge(&format!("jo{n}"), "login", at(0)))
        .collect();
    let outcomes = join_all(racing.iter().map(|c| charged(store, c, POLICY, &quota))).await;
    let over = SendAdmission::OverQuota {
        kind: QuotaKind::Global,
        retry_at: at(3600),
    };
    assert_eq!(
        (
            count(&outcomes, &SendAdmission::Admitted { resend_at: at(30) }),
            count(&outcomes, &over)
        ),
        (3, 7),
        "{outcomes:?}"
    );

    // Ten claims of one idempotency key at once: one holder.
    let request = IdempotentSend {
        slot: "slot-race".to_owned(),
        fingerprint: "request".to_owned(),
    };
    let holders: Vec<_> = (0..10).map(|_| holder()).collect();
    let outcomes = join_all(holders.iter().map(|h| claim(store, &request, h, at(0)))).await;
    assert_eq!(
        (
            count(&outcomes, &IdempotencyClaim::Claimed),
            count(
                &outcomes,
                &IdempotencyClaim::InProgress { retry_at: at(30) }
            )
        ),
        (1, 9),
        "{outcomes:?}"
    );
}

/// A counter's name names its window (`Quota`), so the next window is another counter that starts
/// at zero, however full the last one was.
async fn a_new_window_is_a_new_counter(store: &impl ChallengeStore) {
    let quota = |counter: &str, resets_at| Quota {
        kind: QuotaKind::Global,
        counter: counter.to_owned(),
        amount: 1,
        limit: 1,
        resets_at,
        shards: 4,
    };
    let c = challenge("kim", "login", at(0));
    assert_eq!(
        charged(store, &c, POLICY, &[quota("global#h0", at(3600))]).await,
        admitted(&c)
    );
    assert_eq!(
        charged(
            store,
            &challenge("lou", "login", at(1)),
            POLICY,
            &[quota("global#h0", at(3600))]
        )
        .await,
        SendAdmission::OverQuota {
            kind: QuotaKind::Global,
            retry_at: at(3600)
        }
    );
    let c = challenge("lou", "login", at(3600));
    assert_eq!(
        charged(store, &c, POLICY, &[quota("global#h1", at(7200))]).await,
        admitted(&c),
        "the next window's counter starts at zero"
    );
}

/// A send whose lease ran out, and whose key nobody took over, still holds it: its reply is kept
/// for retries (which then replay it rather than send a second code), whatever else the store did
/// in between.
async fn a_lapsed_lease_is_settled_until_taken_over(store: &impl ChallengeStore) {
    let request = IdempotentSend {
        slot: "slot-slow".to_owned(),
        fingerprint: "request".to_owned(),
    };
    let (slow, retry) = (holder(), holder());
    assert_eq!(
        claim(store, &request, &slow, at(0)).await,
        IdempotencyClaim::Claimed
    );
    // Another send, after the lease ran out.
    let elsewhere = IdempotentSend {
        slot: "slot-other".to_owned(),
        ..request.clone()
    };
    assert_eq!(
        claim(store, &elsewhere, &retry, at(40)).await,
        IdempotencyClaim::Claimed
    );
    settle(store, &request, &slow, Some("late reply"), at(1000)).await;
    assert_eq!(
        claim(store, &request, &retry, at(41)).await,
        IdempotencyClaim::Completed {
            reply: "late reply".to_owned()
        }
    );
}

/// An expired code reads `expired`, not `not_found` (its id was issued), an hour after its expiry,
/// whatever else the store did in between.
async fn an_expired_code_reads_expired_an_hour_on(store: &impl ChallengeStore) {
    let c = challenge("max", "login", at(0));
    assert_eq!(send(store, &c, POLICY).await, admitted(&c));
    let later = c.expires_at + Duration::from_secs(3600);
    let elsewhere = challenge("ned", "login", later);
    assert_eq!(send(store, &elsewhere, POLICY).await, admitted(&elsewhere));
    assert_eq!(
        verify(store, &c, CODE, &home(), later).await,
        VerifyOutcome::Expired
    );
}

/// The port: "a new send for the same destination and purpose is refused this long [the policy's
/// cooldown] after the last one", even when a send under a shorter cooldown came in between.
async fn a_send_waits_out_its_own_cooldown(store: &impl ChallengeStore) {
    let long = SendPolicy {
        resend_cooldown: Duration::from_secs(120),
        ..POLICY
    };
    let short = SendPolicy {
        resend_cooldown: Duration::from_secs(10),
        ..POLICY
    };
    // A code that expires before the long cooldown ends.
    let first = NewChallenge {
        expires_at: at(30),
        ..challenge("ola", "login", at(0))
    };
    assert_eq!(
        send(store, &first, long).await,
        SendAdmission::Admitted { resend_at: at(120) }
    );
    let other_purpose = challenge("ola", "payment", at(60));
    assert_eq!(
        send(store, &other_purpose, short).await,
        SendAdmission::Admitted { resend_at: at(70) }
    );
    assert_eq!(
        send(store, &challenge("ola", "login", at(70)), long).await,
        SendAdmission::CoolingDown { retry_at: at(120) }
    );
}

/// Runs each part of the contract on a fresh in-memory store (`memory::<part>`) and on a fresh
/// DynamoDB table in the emulator (`dynamodb::<part>`). `{ memory: #[…] }` or `{ dynamodb: #[…] }`
/// after a part adds an attribute (an `ignore` naming a known difference) to that store's test.
macro_rules! on_both_stores {
    ($($part:ident $({ memory: #[$memory:meta] })? $({ dynamodb: #[$dynamodb:meta] })?),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                $(#[$memory])?
                async fn $part() {
                    super::$part(&otp_shared::adapters::MemoryStore::new()).await;
                }
            )+
        }

        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                $(#[$dynamodb])?
                async fn $part() {
                    let emulator = crate::helpers::Emulator::get().await;
                    let store = emulator.store(crate::calls::dynamodb(&emulator.sdk)).await;
                    super::$part(&store).await;
                }
            )+
        }
    };
}

on_both_stores! {
    sends,
    message_ids,
    sharded_quotas,
    quotas,
    verify_outcomes,
    withdrawal,
    idempotency,
    network_guess_budget,
    destination_guess_budget,
    concurrency,
    // Once the stores differed here; each rule now lives once in the domain.
    a_new_window_is_a_new_counter,
    a_lapsed_lease_is_settled_until_taken_over,
    an_expired_code_reads_expired_an_hour_on,
    a_send_waits_out_its_own_cooldown,
}

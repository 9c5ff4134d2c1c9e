//! `MemoryStore` as a `ChallengeStore`, against a reference model written plainly here: random
//! sequences of sends, verifies (right or wrong code), withdrawals and clock moves across the
//! expiry, cooldown and window boundaries. After every step the store must answer as the model
//! does; and, checked on the store's answers alone, no code is approved twice, after its expiry,
//! after its withdrawal, after a newer send replaced it, or after `max_attempts` wrong tries.

use std::time::Duration;

use otp_shared::adapters::{MemoryStore, SeededRandomness};
use otp_shared::crypto::SealedSecret;
use otp_shared::crypto::{CodeHash, DestinationKey, Keys};
use otp_shared::domain::{ChallengeId, Channel, Destination, GuessBudget, NetworkKey, Purpose};
use otp_shared::ports::{ChallengeStore, NewChallenge, SendAdmission, SendPolicy, VerifyOutcome};
use otp_shared::{ServiceSecret, domain::Reference};
use proptest::prelude::*;
use time::OffsetDateTime;

const DESTINATIONS: usize = 2;
const PURPOSES: [&str; 2] = ["login", "change-payment"];

#[derive(Debug, Clone)]
enum Op {
    Send {
        destination: usize,
        purpose: usize,
        ttl: u64,
    },
    /// `which` picks one of the codes sent so far (modulo their number).
    Verify {
        which: usize,
        right: bool,
    },
    Withdraw {
        which: usize,
    },
    Advance {
        seconds: u64,
    },
}

/// Seconds chosen to land on and either side of every boundary the policies and lifetimes below
/// can have.
const STEPS: [u64; 12] = [1, 29, 30, 31, 59, 60, 61, 119, 299, 300, 901, 3600];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..DESTINATIONS, 0..PURPOSES.len(), prop::sample::select(vec![30u64, 60, 300, 3600]))
            .prop_map(|(destination, purpose, ttl)| Op::Send { destination, purpose, ttl }),
        4 => (any::<usize>(), any::<bool>()).prop_map(|(which, right)| Op::Verify { which, right }),
        1 => any::<usize>().prop_map(|which| Op::Withdraw { which }),
        3 => prop::sample::select(STEPS.to_vec()).prop_map(|seconds| Op::Advance { seconds }),
    ]
}

fn policy() -> impl Strategy<Value = SendPolicy> {
    (
        prop::sample::select(vec![0u64, 30, 60]),
        1u32..=4,
        prop::sample::select(vec![60u64, 120, 900]),
    )
        .prop_map(|(cooldown, max_sends, window)| SendPolicy {
            resend_cooldown: Duration::from_secs(cooldown),
            max_sends,
            window: Duration::from_secs(window),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Consumed,
    Revoked,
}

/// The model's view of one admitted code.
#[derive(Debug)]
struct Code {
    destination: usize,
    purpose: usize,
    expires_at: OffsetDateTime,
    failed: u32,
    state: State,
    /// Once the store has answered "not found" for it (it may forget a code once neither its
    /// expiry nor its send can matter any more).
    forgotten: bool,
}

/// The reference: every rule of `ChallengeStore` in the plainest form.
struct Model {
    policy: SendPolicy,
    max_attempts: u32,
    codes: Vec<Code>,
    /// Every admitted send: (destination, purpose, time, index into `codes`).
    sends: Vec<(usize, usize, OffsetDateTime, usize)>,
}

impl Model {
    fn begin(&mut self, destination: usize, purpose: usize, now: OffsetDateTime) -> SendAdmission {
        let last_for_purpose = self
            .sends
            .iter()
            .rev()
            .find(|s| s.0 == destination && s.1 == purpose);
        if let Some(&(_, _, at, _)) = last_for_purpose
            && now < at + self.policy.resend_cooldown
        {
            return SendAdmission::CoolingDown {
                retry_at: at + self.policy.resend_cooldown,
            };
        }
        let in_window: Vec<OffsetDateTime> = self
            .sends
            .iter()
            .filter(|s| s.0 == destination && s.2 > now - self.policy.window)
            .map(|s| s.2)
            .collect();
        let max = self.policy.max_sends as usize;
        if in_window.len() >= max {
            return SendAdmission::CapReached {
                retry_at: in_window[in_window.len() - max] + self.policy.window,
            };
        }
        SendAdmission::Admitted {
            resend_at: now + self.policy.resend_cooldown,
        }
    }

    fn admit(&mut self, destination: usize, purpose: usize, now: OffsetDateTime, ttl: u64) {
        // A newer send for the same destination and purpose replaces the pending code, however
        // long ago that code was sent.
        for &(d, p, _, index) in &self.sends {
            if d == destination && p == purpose && self.codes[index].state == State::Pending {
                self.codes[index].state = State::Revoked;
            }
        }
        self.sends
            .push((destination, purpose, now, self.codes.len()));
        self.codes.push(Code {
            destination,
            purpose,
            expires_at: now + Duration::from_secs(ttl),
            failed: 0,
            state: State::Pending,
            forgotten: false,
        });
    }

    fn verify(&mut self, index: usize, right: bool, now: OffsetDateTime) -> VerifyOutcome {
        let max_attempts = self.max_attempts;
        let code = &mut self.codes[index];
        if code.forgotten {
            return VerifyOutcome::NotFound;
        }
        match code.state {
            State::Consumed => VerifyOutcome::Consumed,
            State::Revoked => VerifyOutcome::Expired,
            State::Pending if now >= code.expires_at => VerifyOutcome::Expired,
            State::Pending if code.failed >= max_attempts => VerifyOutcome::Locked,
            State::Pending if right => {
                code.state = State::Consumed;
                // The approval's details are compared apart: the model does not hold them.
                VerifyOutcome::Approved(Box::new(approved_placeholder()))
            }
            State::Pending => {
                code.failed += 1;
                VerifyOutcome::Incorrect {
                    attempts_remaining: max_attempts - code.failed,
                    lock: None,
                }
            }
        }
    }

    /// When the store may have forgotten code `index`: once it has expired and its send no longer
    /// counts toward any rule.
    fn may_forget(&self, index: usize, now: OffsetDateTime) -> bool {
        let remembered = self.policy.window.max(self.policy.resend_cooldown);
        now >= self.codes[index].expires_at + remembered
    }
}

fn approved_placeholder() -> otp_shared::ports::ApprovedChallenge {
    otp_shared::ports::ApprovedChallenge {
        purpose: Purpose::default(),
        reference: None,
        profile: otp_shared::domain::ProfileName::default(),
        transaction: None,
        channel: Channel::Email,
        masked_to: String::new(),
        sealed_to: sealed(),
        message_id: None,
        country: None,
    }
}

fn sealed() -> SealedSecret {
    SealedSecret {
        key_id: "k".into(),
        nonce: "n".into(),
        ciphertext: "c".into(),
    }
}

/// The right code's hash for the `n`th code; every code has its own, and `WRONG` is no one's.
fn right_hash(n: usize) -> CodeHash {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&(n as u64 + 1).to_le_bytes());
    CodeHash::from_bytes(bytes)
}

const WRONG: [u8; 32] = [0xff; 32];

fn network(step: usize) -> NetworkKey {
    NetworkKey::parse(&format!("{step:x}")).unwrap()
}

fn destination_keys() -> Vec<DestinationKey> {
    let keys = Keys::derive(&ServiceSecret::parse("store model test secret, 32+ bytes").unwrap());
    (0..DESTINATIONS)
        .map(|n| {
            let to = Destination::parse(Channel::Email, &format!("user{n}@example.com")).unwrap();
            keys.destination_key(&to.recipient())
        })
        .collect()
}

/// Runs `ops` against a fresh store and the model, comparing each answer; then the global checks.
async fn run(policy: SendPolicy, max_attempts: u32, ops: &[Op]) -> Result<(), TestCaseError> {
    let store = MemoryStore::new();
    let random = SeededRandomness::new(1);
    let keys = destination_keys();
    let purposes: Vec<Purpose> = PURPOSES
        .iter()
        .map(|p| Purpose::parse(p).unwrap())
        .collect();
    let mut now = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut model = Model {
        policy,
        max_attempts,
        codes: Vec::new(),
        sends: Vec::new(),
    };
    let mut ids: Vec<ChallengeId> = Vec::new();
    // What the store itself said, for the global checks.
    let mut approvals = vec![0u32; 0];
    let mut wrong_tries = vec![0u32; 0];
    let mut withdrawn_at: Vec<Option<OffsetDateTime>> = Vec::new();
    let mut replaced_at: Vec<Option<OffsetDateTime>> = Vec::new();

    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Send {
                destination,
                purpose,
                ttl,
            } => {
                let n = ids.len();
                let id = ChallengeId::generate(&random);
                let challenge = NewChallenge {
                    id: id.clone(),
                    destination: keys[destination].clone(),
                    purpose: purposes[purpose].clone(),
                    code_hash: right_hash(n),
                    channel: Channel::Email,
                    masked_to: format!("u•••@example.com#{n}"),
                    sealed_to: sealed(),
                    reference: Some(Reference::parse(&format!("code-{n}")).unwrap()),
                    profile: otp_shared::domain::ProfileName::default(),
                    transaction: None,
                    created_at: now,
                    expires_at: now + Duration::from_secs(ttl),
                    max_attempts,
                    guess_budget: GuessBudget::default(),
                    network: network(step),
                    country: None,
                };
                let got = store.begin(challenge, policy, &[]).await.unwrap();
                let expected = model.begin(destination, purpose, now);
                prop_assert_eq!(&got, &expected, "step {}: {:?}", step, op);
                if matches!(got, SendAdmission::Admitted { .. }) {
                    for (index, code) in model.codes.iter().enumerate() {
                        if code.destination == destination
                            && code.purpose == purpose
                            && replaced_at[index].is_none()
                        {
                            replaced_at[index] = Some(now);
                        }
                    }
                    model.admit(destination, purpose, now, ttl);
                    ids.push(id);
                    approvals.push(0);
                    wrong_tries.push(0);
                    withdrawn_at.push(None);
                    replaced_at.push(None);
                }
            }
            Op::Verify { which, right } => {
                if ids.is_empty() {
                    continue;
                }
                let index = which % ids.len();
                let hash = if right {
                    right_hash(index)
                } else {
                    CodeHash::from_bytes(WRONG)
                };
                // Each verify from a network of its own, and fewer wrong codes than a destination's
                // daily budget: the guess budget (tested on its own) never speaks here.
                let got = store
                    .verify(&ids[index], &hash, &network(step), now)
                    .await
                    .unwrap();
                if got == VerifyOutcome::NotFound && model.may_forget(index, now) {
                    model.codes[index].forgotten = true;
                }
                let expected = model.verify(index, right, now);
                match (&got, &expected) {
                    (VerifyOutcome::Approved(approved), VerifyOutcome::Approved(_)) => {
                        // The approval describes this code, not another one.
                        let reference = format!("code-{index}");
                        prop_assert_eq!(
                            approved.reference.as_ref().map(Reference::as_str),
                            Some(reference.as_str())
                        );
                        prop_assert_eq!(&approved.purpose, &purposes[model.codes[index].purpose]);
                    }
                    _ => prop_assert_eq!(
                        &got,
                        &expected,
                        "step {}: {:?} on code {}",
                        step,
                        op,
                        index
                    ),
                }
                match got {
                    VerifyOutcome::Approved(_) => {
                        approvals[index] += 1;
                        prop_assert_eq!(approvals[index], 1, "code {} approved twice", index);
                        prop_assert!(now < model.codes[index].expires_at, "approved after expiry");
                        prop_assert!(withdrawn_at[index].is_none(), "approved after withdrawal");
                        prop_assert!(
                            replaced_at[index].is_none(),
                            "code {} approved after a newer send replaced it",
                            index
                        );
                        prop_assert!(
                            wrong_tries[index] < max_attempts,
                            "approved after max_attempts wrong tries"
                        );
                    }
                    VerifyOutcome::Incorrect { .. } => wrong_tries[index] += 1,
                    _ => {}
                }
            }
            Op::Withdraw { which } => {
                if ids.is_empty() {
                    continue;
                }
                let index = which % ids.len();
                store.withdraw(&ids[index], now).await.unwrap();
                if model.codes[index].state == State::Pending {
                    model.codes[index].state = State::Revoked;
                }
                withdrawn_at[index].get_or_insert(now);
            }
            Op::Advance { seconds } => now += Duration::from_secs(seconds),
        }
    }
    Ok(())
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..60)
}

#[test]
fn the_memory_store_agrees_with_the_model_and_never_approves_twice() {
    let runtime = super::runtime();
    proptest!(super::config(256), |(policy in policy(), max_attempts in 1u32..=3, ops in ops())| {
        runtime.block_on(run(policy, max_attempts, &ops))?;
    });
}

/// Found by the property above: a code that outlives the send window stayed valid after a newer
/// send to the same destination and purpose, because the store had already forgotten the older
/// send when the newer one came. With the default policy: a 3600-second code, a resend at 901 s.
#[test]
fn a_newer_send_replaces_a_code_sent_before_the_window() {
    let policy = otp_shared::Settings::default().send_policy;
    let ops = [
        Op::Send {
            destination: 0,
            purpose: 0,
            ttl: 3600,
        },
        Op::Advance { seconds: 901 },
        Op::Send {
            destination: 0,
            purpose: 0,
            ttl: 300,
        },
        Op::Verify {
            which: 0,
            right: true,
        },
    ];
    super::runtime()
        .block_on(run(policy, 5, &ops))
        .unwrap_or_else(|e| panic!("{e}"));
}

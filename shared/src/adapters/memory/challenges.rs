//! The in-memory challenge store: sends, verifies, withdrawals, idempotency.

use time::OffsetDateTime;

use crate::crypto::{CodeHash, IdempotentSend};
use crate::domain::{
    CODE_RETENTION, ChallengeId, CodeCheck, CodeState, NetworkKey, Plan, keep_claim_until,
};
use crate::ports::{
    ApprovedChallenge, ChallengeStore, IdempotencyClaim, NewChallenge, Quota, SendAdmission,
    SendPolicy, StoreError, VerifyOutcome,
};

use super::state::*;

impl ChallengeStore for MemoryStore {
    async fn begin(
        &self,
        challenge: NewChallenge,
        policy: SendPolicy,
        quotas: &[Quota],
    ) -> Result<SendAdmission, StoreError> {
        let now = challenge.created_at;
        let mut inner = self.lock()?;
        inner.expire(now);
        let sends = inner
            .destinations
            .entry(challenge.destination.clone())
            .or_default();
        if let Some(until) = sends.guesses.locked_until(&challenge.network, now) {
            return Ok(SendAdmission::LockedOut { until });
        }
        let last = sends
            .last_by_purpose
            .get(&challenge.purpose)
            .map(|(t, _)| *t);
        let admission = policy.admit(sends.recent.make_contiguous(), last, now);
        if !matches!(admission, SendAdmission::Admitted { .. }) {
            return Ok(admission);
        }
        // Where each quota's charge goes: the domain's rule, on every shard's exact standing.
        let mut charges = Vec::new();
        for quota in quotas {
            let used: Vec<u64> = quota
                .shard_counters()
                .iter()
                .map(|counter| inner.used(counter, now))
                .collect();
            match quota.plan(
                quota.first_shard(challenge.id.as_str()),
                &quota.rooms(&used),
            ) {
                Plan::Charge(parts) => {
                    charges.extend(parts.into_iter().map(|c| (c, quota.resets_at)))
                }
                Plan::Full | Plan::ReadShards => {
                    return Ok(SendAdmission::OverQuota {
                        kind: quota.kind,
                        retry_at: quota.resets_at,
                    });
                }
            }
        }
        for (charge, resets_at) in charges {
            let used = inner.used(&charge.counter, now) + charge.amount;
            let previous = inner
                .counters
                .insert(charge.counter.clone(), (used, resets_at));
            if previous.is_none_or(|(_, previous_reset)| previous_reset != resets_at) {
                inner.forget_at(resets_at, Entry::Counter(charge.counter));
            }
        }
        let sends = inner
            .destinations
            .get_mut(&challenge.destination)
            .expect("entered above");
        sends.recent.push_back(now);
        let lifetime = (challenge.expires_at - now).try_into().unwrap_or_default();
        sends.remembered_for = sends.remembered_for.max(policy.remembered_for(lifetime));
        let destination_kept_for = sends.remembered_for;
        let guessed_from = sends.guesses.guessing_networks().into_iter().collect();
        let replaced = sends
            .last_by_purpose
            .insert(challenge.purpose.clone(), (now, challenge.id.clone()))
            .map(|(_, id)| id);
        if let Some(old) = replaced.and_then(|id| inner.challenges.get_mut(&id))
            && old.state == CodeState::Pending
        {
            old.state = CodeState::Revoked;
        }
        inner.forget_at(
            now + destination_kept_for,
            Entry::Destination(challenge.destination.clone()),
        );
        inner.forget_at(
            challenge.expires_at + CODE_RETENTION,
            Entry::Challenge(challenge.id.clone()),
        );
        let destination = challenge.destination.clone();
        inner.challenges.insert(
            challenge.id,
            Stored {
                approved: ApprovedChallenge {
                    purpose: challenge.purpose,
                    reference: challenge.reference,
                    profile: challenge.profile,
                    transaction: challenge.transaction,
                    channel: challenge.channel,
                    masked_to: challenge.masked_to,
                    sealed_to: challenge.sealed_to,
                    message_id: None,
                    country: challenge.country,
                },
                code_hash: challenge.code_hash,
                expires_at: challenge.expires_at,
                max_attempts: challenge.max_attempts,
                failed_attempts: 0,
                state: CodeState::Pending,
                destination,
                guess_budget: challenge.guess_budget,
                guessed_from,
            },
        );
        Ok(admission)
    }

    async fn claim_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<IdempotencyClaim, StoreError> {
        let mut inner = self.lock()?;
        inner.expire(now);
        if let Some(held) = inner
            .idempotency
            .get(&send.slot)
            .map(IdempotencyRecord::held)
            .filter(|held| !held.is_free(now))
        {
            return Ok(held.refusal(&send.fingerprint));
        }
        inner.idempotency.insert(
            send.slot.clone(),
            IdempotencyRecord {
                fingerprint: send.fingerprint.clone(),
                holder: holder.clone(),
                reply: None,
                until: lease_until,
            },
        );
        inner.forget_at(
            keep_claim_until(lease_until),
            Entry::Idempotency(send.slot.clone()),
        );
        Ok(IdempotencyClaim::Claimed)
    }

    async fn settle_idempotency(
        &self,
        send: &IdempotentSend,
        holder: &ChallengeId,
        reply: Option<&str>,
        keep_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let held = inner
            .idempotency
            .get(&send.slot)
            .is_some_and(|record| record.holder == *holder && record.reply.is_none());
        if !held {
            return Ok(());
        }
        match reply {
            Some(reply) => {
                let record = inner
                    .idempotency
                    .get_mut(&send.slot)
                    .expect("checked above");
                record.reply = Some(reply.to_owned());
                record.until = keep_until;
                inner.forget_at(keep_until, Entry::Idempotency(send.slot.clone()));
            }
            None => {
                inner.idempotency.remove(&send.slot);
            }
        }
        Ok(())
    }

    async fn withdraw(&self, id: &ChallengeId, _now: OffsetDateTime) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if let Some(stored) = inner.challenges.get_mut(id)
            && stored.state == CodeState::Pending
        {
            stored.state = CodeState::Revoked;
        }
        Ok(())
    }

    async fn note_message(&self, id: &ChallengeId, message_id: &str) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        if let Some(stored) = inner.challenges.get_mut(id) {
            stored.approved.message_id = Some(message_id.to_owned());
        }
        Ok(())
    }

    async fn verify(
        &self,
        id: &ChallengeId,
        candidate: &CodeHash,
        network: &NetworkKey,
        now: OffsetDateTime,
    ) -> Result<VerifyOutcome, StoreError> {
        let mut inner = self.lock()?;
        let Inner {
            challenges,
            destinations,
            ..
        } = &mut *inner;
        let Some(stored) = challenges.get_mut(id) else {
            return Ok(VerifyOutcome::NotFound);
        };
        let guesses = &mut destinations
            .entry(stored.destination.clone())
            .or_default()
            .guesses;
        let check = CodeCheck {
            state: stored.state,
            expires_at: stored.expires_at,
            failed_attempts: stored.failed_attempts,
            max_attempts: stored.max_attempts,
        };
        let outcome = match check.refusal(guesses.locked_until(network, now), now) {
            Some(refusal) => refusal.into(),
            None => {
                let tried_before = !stored.guessed_from.insert(network.clone());
                if stored.code_hash == *candidate {
                    stored.state = CodeState::Consumed;
                    if tried_before {
                        guesses.succeed(network);
                    }
                    VerifyOutcome::Approved(Box::new(stored.approved.clone()))
                } else {
                    stored.failed_attempts += 1;
                    guesses.count_failure(network, now);
                    let lock = guesses.lock_due(&stored.guess_budget, network, now);
                    if let Some(lock) = lock {
                        guesses.apply(lock, network);
                    }
                    let keep_until = guesses.keep_until();
                    let outcome = VerifyOutcome::Incorrect {
                        attempts_remaining: stored.max_attempts - stored.failed_attempts,
                        lock,
                    };
                    let destination = stored.destination.clone();
                    if let Some(at) = keep_until {
                        inner.forget_at(at, Entry::Destination(destination));
                    }
                    return Ok(outcome);
                }
            }
        };
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::adapters::SeededRandomness;
    use crate::crypto::DestinationKey;
    use crate::domain::{Channel, Purpose};

    const POLICY: SendPolicy = SendPolicy {
        resend_cooldown: Duration::from_secs(30),
        max_sends: 5,
        window: Duration::from_secs(900),
    };

    fn t(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_800_000_000 + seconds)
    }

    fn challenge(
        random: &SeededRandomness,
        destination: &str,
        now: OffsetDateTime,
    ) -> NewChallenge {
        NewChallenge {
            id: ChallengeId::generate(random),
            destination: fake_destination(destination),
            purpose: Purpose::default(),
            code_hash: CodeHash::from_bytes([1; 32]),
            channel: Channel::Sms,
            masked_to: "+44•••••••123".into(),
            sealed_to: crate::crypto::SealedSecret {
                key_id: "k".into(),
                nonce: "n".into(),
                ciphertext: "c".into(),
            },
            reference: None,
            profile: crate::domain::ProfileName::default(),
            transaction: None,
            created_at: now,
            expires_at: now + Duration::from_secs(300),
            max_attempts: 3,
            guess_budget: crate::domain::GuessBudget::default(),
            network: net(),
            country: None,
        }
    }

    fn net() -> NetworkKey {
        NetworkKey::parse("0a0b").unwrap()
    }

    fn fake_destination(name: &str) -> DestinationKey {
        // Any stable key will do for the store; real keys come from `Keys::destination_key`.
        let keys = crate::crypto::Keys::derive(
            &crate::crypto::ServiceSecret::parse("memory store tests secret, 32+ bytes").unwrap(),
        );
        let dest =
            crate::domain::Destination::parse(Channel::Email, &format!("{name}@example.com"))
                .unwrap();
        keys.destination_key(&dest.recipient())
    }

    #[tokio::test]
    async fn the_right_hash_is_approved_once() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(1));
        let c = challenge(&random, "a", t(0));
        let id = c.id.clone();
        store.begin(c, POLICY, &[]).await.unwrap();
        let right = CodeHash::from_bytes([1; 32]);
        assert!(matches!(
            store.verify(&id, &right, &net(), t(1)).await.unwrap(),
            VerifyOutcome::Approved(_)
        ));
        assert_eq!(
            store.verify(&id, &right, &net(), t(2)).await.unwrap(),
            VerifyOutcome::Consumed
        );
    }

    #[tokio::test]
    async fn wrong_hashes_count_down_then_lock_even_the_right_one() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(2));
        let c = challenge(&random, "a", t(0));
        let id = c.id.clone();
        store.begin(c, POLICY, &[]).await.unwrap();
        let wrong = CodeHash::from_bytes([2; 32]);
        for remaining in [2, 1, 0] {
            assert_eq!(
                store.verify(&id, &wrong, &net(), t(1)).await.unwrap(),
                VerifyOutcome::Incorrect {
                    attempts_remaining: remaining,
                    lock: None,
                }
            );
        }
        let right = CodeHash::from_bytes([1; 32]);
        assert_eq!(
            store.verify(&id, &right, &net(), t(2)).await.unwrap(),
            VerifyOutcome::Locked
        );
    }

    #[tokio::test]
    async fn expiry_is_checked_on_verify() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(3));
        let c = challenge(&random, "a", t(0));
        let id = c.id.clone();
        store.begin(c, POLICY, &[]).await.unwrap();
        let right = CodeHash::from_bytes([1; 32]);
        assert_eq!(
            store.verify(&id, &right, &net(), t(300)).await.unwrap(),
            VerifyOutcome::Expired
        );
    }

    #[tokio::test]
    async fn a_new_send_replaces_the_pending_code() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(4));
        let first = challenge(&random, "a", t(0));
        let first_id = first.id.clone();
        store.begin(first, POLICY, &[]).await.unwrap();
        let second = challenge(&random, "a", t(31));
        let second_id = second.id.clone();
        assert!(matches!(
            store.begin(second, POLICY, &[]).await.unwrap(),
            SendAdmission::Admitted { .. }
        ));
        let right = CodeHash::from_bytes([1; 32]);
        assert_eq!(
            store
                .verify(&first_id, &right, &net(), t(32))
                .await
                .unwrap(),
            VerifyOutcome::Expired
        );
        assert!(matches!(
            store
                .verify(&second_id, &right, &net(), t(32))
                .await
                .unwrap(),
            VerifyOutcome::Approved(_)
        ));
    }

    #[tokio::test]
    async fn a_withdrawn_code_cannot_be_verified_but_still_counts() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(5));
        let policy = SendPolicy {
            max_sends: 1,
            ..POLICY
        };
        let c = challenge(&random, "a", t(0));
        let id = c.id.clone();
        store.begin(c, policy, &[]).await.unwrap();
        store.withdraw(&id, t(1)).await.unwrap();
        let right = CodeHash::from_bytes([1; 32]);
        assert_eq!(
            store.verify(&id, &right, &net(), t(2)).await.unwrap(),
            VerifyOutcome::Expired
        );
        assert!(matches!(
            store
                .begin(challenge(&random, "a", t(60)), policy, &[])
                .await
                .unwrap(),
            SendAdmission::CapReached { .. }
        ));
    }

    #[tokio::test]
    async fn unknown_ids_are_not_found() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(6));
        let id = ChallengeId::generate(&random);
        let hash = CodeHash::from_bytes([1; 32]);
        assert_eq!(
            store.verify(&id, &hash, &net(), t(0)).await.unwrap(),
            VerifyOutcome::NotFound
        );
    }

    #[tokio::test]
    async fn the_sweep_forgets_only_what_no_rule_needs() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(7));
        store
            .begin(challenge(&random, "old", t(0)), POLICY, &[])
            .await
            .unwrap();
        let recent = challenge(&random, "new", t(2000));
        let recent_id = recent.id.clone();
        store.begin(recent, POLICY, &[]).await.unwrap();
        store.lock().unwrap().expire(t(2001));
        {
            let inner = store.lock().unwrap();
            assert_eq!(
                inner.destinations.len(),
                1,
                "the old destination's sends are gone"
            );
            assert_eq!(inner.challenges.len(), 2, "codes stay a day past expiry");
        }
        // The old code (expired at 300) is forgotten a day after its expiry, the recent one later.
        let day = CODE_RETENTION.as_secs() as i64;
        store.lock().unwrap().expire(t(300 + day));
        let inner = store.lock().unwrap();
        assert_eq!(inner.challenges.len(), 1);
        assert!(inner.challenges.contains_key(&recent_id));
    }

    #[tokio::test]
    async fn an_idempotency_key_is_held_by_one_send_until_settled_or_its_lease_ends() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(10));
        let send = IdempotentSend {
            slot: "slot".into(),
            fingerprint: "request-a".into(),
        };
        let (first, second) = (
            ChallengeId::generate(&random),
            ChallengeId::generate(&random),
        );
        let claim = |holder: &ChallengeId, now| {
            let (store, send, holder) = (&store, send.clone(), holder.clone());
            async move {
                store
                    .claim_idempotency(&send, &holder, now, now + Duration::from_secs(30))
                    .await
                    .unwrap()
            }
        };
        assert_eq!(claim(&first, t(0)).await, IdempotencyClaim::Claimed);
        assert_eq!(
            claim(&second, t(10)).await,
            IdempotencyClaim::InProgress { retry_at: t(30) }
        );
        let other_request = IdempotentSend {
            fingerprint: "request-b".into(),
            ..send.clone()
        };
        assert_eq!(
            store
                .claim_idempotency(&other_request, &second, t(10), t(40))
                .await
                .unwrap(),
            IdempotencyClaim::Mismatch
        );
        // The first send stalls past its lease: the second takes the key over, and the first can
        // no longer settle it.
        assert_eq!(claim(&second, t(30)).await, IdempotencyClaim::Claimed);
        store
            .settle_idempotency(&send, &first, Some("stale"), t(1000))
            .await
            .unwrap();
        store
            .settle_idempotency(&send, &second, Some("reply"), t(1000))
            .await
            .unwrap();
        assert_eq!(
            claim(&first, t(999)).await,
            IdempotencyClaim::Completed {
                reply: "reply".into()
            }
        );
        // Settled: a late release by anyone changes nothing; once kept long enough it is free.
        store
            .settle_idempotency(&send, &second, None, t(0))
            .await
            .unwrap();
        assert_eq!(
            claim(&first, t(999)).await,
            IdempotencyClaim::Completed {
                reply: "reply".into()
            }
        );
        assert_eq!(claim(&first, t(1000)).await, IdempotencyClaim::Claimed);
        // Released by its holder: free at once.
        store
            .settle_idempotency(&send, &first, None, t(0))
            .await
            .unwrap();
        assert_eq!(claim(&second, t(1001)).await, IdempotencyClaim::Claimed);
    }

    #[tokio::test]
    async fn a_short_policy_never_forgets_other_destinations_sends_early() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(9));
        let brief = SendPolicy {
            resend_cooldown: Duration::ZERO,
            max_sends: 100,
            window: Duration::from_secs(1),
        };
        for n in 0..POLICY.max_sends {
            let c = challenge(&random, "a", t(31 * i64::from(n)));
            store.begin(c, POLICY, &[]).await.unwrap();
        }
        // Much later, but inside "a"'s window, a send under a one-second policy to somewhere else.
        let other = challenge(&random, "b", t(600));
        store.begin(other, brief, &[]).await.unwrap();
        assert!(
            matches!(
                store
                    .begin(challenge(&random, "a", t(601)), POLICY, &[])
                    .await
                    .unwrap(),
                SendAdmission::CapReached { .. }
            ),
            "a's five sends still count"
        );
        // Once a's window has passed, its sends go without any full sweep; its codes a day after
        // their expiry.
        store.lock().unwrap().expire(t(2000));
        assert!(store.lock().unwrap().destinations.is_empty());
        store
            .lock()
            .unwrap()
            .expire(t(2000 + CODE_RETENTION.as_secs() as i64));
        let inner = store.lock().unwrap();
        assert!(inner.challenges.is_empty());
        assert!(inner.expiries.is_empty());
    }

    #[tokio::test]
    async fn a_send_over_any_quota_is_neither_recorded_nor_charged() {
        let (store, random) = (MemoryStore::new(), SeededRandomness::new(8));
        let quota = |counter: &str, amount, limit| Quota {
            kind: crate::ports::QuotaKind::Global,
            counter: counter.to_owned(),
            amount,
            limit,
            resets_at: t(3600),
            shards: 1,
        };
        let lenient = SendPolicy {
            resend_cooldown: Duration::ZERO,
            max_sends: 100,
            window: Duration::from_secs(900),
        };
        let quotas = [quota("a", 1, 2), quota("b", 3, 7)];
        for n in 0..2 {
            let c = challenge(&random, &format!("d{n}"), t(n));
            assert!(matches!(
                store.begin(c, lenient, &quotas).await.unwrap(),
                SendAdmission::Admitted { .. }
            ));
        }
        // "a" is full (2 of 2); "b" stands at 6 of 7, so one more unit would still fit there.
        let refused = challenge(&random, "d9", t(5));
        let refused_id = refused.id.clone();
        assert_eq!(
            store.begin(refused, lenient, &quotas).await.unwrap(),
            SendAdmission::OverQuota {
                kind: crate::ports::QuotaKind::Global,
                retry_at: t(3600)
            }
        );
        assert!(!store.lock().unwrap().challenges.contains_key(&refused_id));
        assert_eq!(store.lock().unwrap().counters["b"].0, 6, "nothing charged");
        assert!(matches!(
            store
                .begin(challenge(&random, "d8", t(6)), lenient, &[quota("b", 1, 7)])
                .await
                .unwrap(),
            SendAdmission::Admitted { .. }
        ));
        // A new window starts from zero.
        assert!(matches!(
            store
                .begin(challenge(&random, "d7", t(3600)), lenient, &quotas)
                .await
                .unwrap(),
            SendAdmission::Admitted { .. }
        ));
    }
}

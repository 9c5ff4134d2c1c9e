//! A code's item: what a send records and what a verify's old item says.

use std::time::Duration;

use anyhow::anyhow;
use serde::{Deserialize, Serialize};

use super::codec::*;
use crate::crypto::{CodeHash, SealedSecret};
use crate::domain::{
    CODE_RETENTION, Channel, CodeCheck, CodeState, GuessBudget, ProfileName, Purpose, Reference,
    Region, Transaction,
};
use crate::ports::{ApprovedChallenge, NewChallenge, StoreError, VerifyOutcome};

/// A code's `state`: pending, or withdrawn (replaced, or its delivery failed). Consumed is not a
/// state here: a code is consumed once an attempt's hash equals its code hash.
pub(super) const PENDING: &str = "pending";
pub(super) const WITHDRAWN: &str = "withdrawn";

/// A code's item. Holds the keyed hash only, never the code, and the masked address only.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CodeItem {
    pub(super) pk: String,
    pub(super) code_hash: String,
    /// The hash of the latest attempt; equal to `code_hash` once the code has been approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_attempt_hash: Option<String>,
    /// The random name the latest verify wrote with its attempt (see [`DynamoStore::verify`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) last_attempt_id: Option<String>,
    pub(super) state: String,
    pub(super) attempts: u32,
    pub(super) max_attempts: u32,
    pub(super) created_at_ms: i64,
    pub(super) expires_at_ms: i64,
    pub(super) purpose: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) reference: Option<String>,
    /// Absent on codes stored before profiles: they were sent under `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) transaction: Option<Transaction>,
    pub(super) channel: Channel,
    pub(super) masked_to: String,
    pub(super) sealed_to: SealedSecret,
    pub(super) purge_at: i64,
    /// The destination's item (`dest#…`), whose guess budget a wrong code counts against; absent
    /// on codes stored before the guess budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) guess_budget: Option<StoredGuessBudget>,
    /// The provider's id of the message that carried the code, written after its delivery when
    /// the provider takes a "code entered" signal: the verify's old item brings it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) message_id: Option<String>,
    /// A phone destination's country (ISO 3166 alpha-2), for counting approvals per country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) country: Option<String>,
}

/// A profile's guess budget as a code item keeps it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(super) struct StoredGuessBudget {
    pub(super) per_network: u32,
    pub(super) lock_seconds: u64,
    pub(super) per_destination: u32,
}

impl From<GuessBudget> for StoredGuessBudget {
    fn from(budget: GuessBudget) -> Self {
        Self {
            per_network: budget.per_network,
            lock_seconds: budget.lock_for.as_secs(),
            per_destination: budget.per_destination,
        }
    }
}

impl StoredGuessBudget {
    pub(super) fn budget(self) -> Result<GuessBudget, StoreError> {
        GuessBudget::new(
            self.per_network,
            Duration::from_secs(self.lock_seconds),
            self.per_destination,
        )
        .map_err(|_| corrupt("guess budget"))
    }
}

impl CodeItem {
    pub(super) fn new(challenge: &NewChallenge) -> Self {
        Self {
            pk: code_key(challenge.id.as_str()),
            code_hash: hex(&challenge.code_hash),
            last_attempt_hash: None,
            last_attempt_id: None,
            state: PENDING.to_owned(),
            attempts: 0,
            max_attempts: challenge.max_attempts,
            created_at_ms: millis(challenge.created_at),
            expires_at_ms: millis(challenge.expires_at),
            purpose: challenge.purpose.as_str().to_owned(),
            reference: challenge.reference.as_ref().map(|r| r.as_str().to_owned()),
            profile: Some(challenge.profile.as_str().to_owned()),
            transaction: challenge.transaction.clone(),
            channel: challenge.channel,
            masked_to: challenge.masked_to.clone(),
            sealed_to: challenge.sealed_to.clone(),
            purge_at: purge_seconds(challenge.expires_at + CODE_RETENTION),
            destination: Some(destination_key(&challenge.destination)),
            guess_budget: Some(challenge.guess_budget.into()),
            message_id: None,
            country: challenge.country.map(|c| c.as_str().to_owned()),
        }
    }

    pub(super) fn code_hash(&self) -> Result<CodeHash, StoreError> {
        decode_hash(&self.code_hash)
    }

    pub(super) fn is_consumed(&self) -> bool {
        self.last_attempt_hash.as_deref() == Some(self.code_hash.as_str())
    }

    pub(super) fn approved(&self) -> Result<ApprovedChallenge, StoreError> {
        Ok(ApprovedChallenge {
            purpose: Purpose::parse(&self.purpose).map_err(|_| corrupt("purpose"))?,
            reference: self
                .reference
                .as_deref()
                .map(Reference::parse)
                .transpose()
                .map_err(|_| corrupt("reference"))?,
            profile: match &self.profile {
                Some(name) => ProfileName::parse(name).map_err(|_| corrupt("profile"))?,
                None => ProfileName::default(),
            },
            transaction: self.transaction.clone(),
            channel: self.channel,
            masked_to: self.masked_to.clone(),
            sealed_to: self.sealed_to.clone(),
            message_id: self.message_id.clone(),
            // A country that no longer parses costs only a dimension of a metric.
            country: self.country.as_deref().and_then(|c| Region::parse(c).ok()),
        })
    }

    /// What the verify that wrote `candidate` into this item found, `attempts` being the count of
    /// attempts after it: an approval, or one more wrong attempt (its lock is decided after).
    pub(super) fn outcome_of_attempt(
        &self,
        candidate: &CodeHash,
        attempts: u32,
    ) -> Result<VerifyOutcome, StoreError> {
        Ok(if self.code_hash()? == *candidate {
            VerifyOutcome::Approved(Box::new(self.approved()?))
        } else {
            VerifyOutcome::Incorrect {
                attempts_remaining: self.max_attempts.saturating_sub(attempts),
                lock: None,
            }
        })
    }

    /// Why the verify condition refused this (old) item, whose mirrored lock on the asking network
    /// is `locked_until_ms`: [`CodeCheck::refusal`]'s answer, which the condition translates.
    pub(super) fn refusal(
        &self,
        now_ms: i64,
        locked_until_ms: Option<i64>,
    ) -> Result<VerifyOutcome, StoreError> {
        let state = if self.is_consumed() {
            CodeState::Consumed
        } else if self.state != PENDING {
            CodeState::Revoked
        } else {
            CodeState::Pending
        };
        let check = CodeCheck {
            state,
            expires_at: from_millis(self.expires_at_ms)?,
            failed_attempts: self.attempts,
            max_attempts: self.max_attempts,
        };
        let locked_out_until = locked_until_ms.map(from_millis).transpose()?;
        match check.refusal(locked_out_until, from_millis(now_ms)?) {
            Some(refusal) => Ok(refusal.into()),
            None => Err(StoreError::Failed(anyhow!(
                "verify condition failed on an item that passes every check"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(state: &str, attempts: u32, consumed: bool) -> CodeItem {
        let hash = "ab".repeat(32);
        CodeItem {
            pk: "code#x".into(),
            code_hash: hash.clone(),
            last_attempt_hash: Some(if consumed { hash } else { "cd".repeat(32) }),
            last_attempt_id: Some("an earlier verify".into()),
            state: state.into(),
            attempts,
            max_attempts: 5,
            created_at_ms: 1_000,
            expires_at_ms: 10_000,
            purpose: "login".into(),
            reference: Some("order-1".into()),
            profile: None,
            transaction: None,
            channel: Channel::Sms,
            masked_to: "+44•••••••456".into(),
            sealed_to: SealedSecret {
                key_id: "k".into(),
                nonce: "n".into(),
                ciphertext: "c".into(),
            },
            purge_at: 100,
            destination: None,
            guess_budget: None,
            message_id: None,
            country: None,
        }
    }

    #[test]
    fn a_refused_verify_is_explained_by_the_old_item_in_the_memory_stores_order() {
        let outcome = |item: CodeItem, now_ms| item.refusal(now_ms, None).unwrap();
        // Consumed first, whatever else holds.
        assert_eq!(
            outcome(item(PENDING, 5, true), 20_000),
            VerifyOutcome::Consumed
        );
        assert_eq!(
            outcome(item(WITHDRAWN, 1, true), 1),
            VerifyOutcome::Consumed
        );
        // Withdrawn or replaced reads as expired, as does a pending code past its expiry.
        assert_eq!(
            outcome(item(WITHDRAWN, 0, false), 1),
            VerifyOutcome::Expired
        );
        assert_eq!(
            outcome(item(PENDING, 5, false), 10_000),
            VerifyOutcome::Expired
        );
        assert_eq!(
            outcome(item(PENDING, 5, false), 9_999),
            VerifyOutcome::Locked
        );
        // Then a guess lock on the asking network (its own or everyone's), until it ends.
        assert_eq!(
            item(PENDING, 4, false)
                .refusal(9_999, Some(12_000))
                .unwrap(),
            VerifyOutcome::LockedOut {
                until: from_millis(12_000).unwrap()
            }
        );
        assert_eq!(
            item(PENDING, 5, false)
                .refusal(9_999, Some(12_000))
                .unwrap(),
            VerifyOutcome::Locked
        );
        // An item every check passes cannot have been refused: that is an error, not a guess.
        assert!(item(PENDING, 4, false).refusal(9_999, None).is_err());
    }

    #[test]
    fn an_approved_item_gives_back_what_the_send_recorded() {
        let approved = item(PENDING, 1, true).approved().unwrap();
        assert_eq!(approved.purpose.as_str(), "login");
        assert_eq!(approved.reference.unwrap().as_str(), "order-1");
        assert_eq!(approved.channel, Channel::Sms);
        assert_eq!(approved.masked_to, "+44•••••••456");
        let mut bad = item(PENDING, 1, true);
        bad.code_hash = "zz".into();
        assert!(bad.code_hash().is_err());
    }
}

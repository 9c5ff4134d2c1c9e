//! A destination's item: its recent sends, last code per purpose, and guess record.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::codec::*;
use crate::domain::Purpose;
use crate::ports::{NewChallenge, SendAdmission, SendPolicy, StoreError};

/// The sends to one destination, keyed by its pseudonym, and its guess record (see
/// [`super::guesses`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct DestinationItem {
    pub(super) pk: String,
    /// Incremented by every send and every wrong code; a whole-item write is conditional on the
    /// version it read.
    pub(super) version: u64,
    /// Times (epoch ms) of the sends still inside the window, oldest first.
    pub(super) sends_ms: Vec<i64>,
    /// Per purpose: the last send and its code, while either still matters.
    pub(super) last_sends: BTreeMap<String, LastSend>,
    pub(super) purge_at: i64,
    /// How long a send here matters to the rules, under the longest policy and code it was sent
    /// with ([`SendPolicy::remembered_for`], in ms); pruning keeps that much history whatever the
    /// policy of the send that prunes. Absent in items from before: the pruning send's own then.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) kept_for_ms: i64,
    // The guess record, by network pseudonym and by hour. Always written, empty or not, so a
    // wrong code can add to them with one `UpdateItem`.
    #[serde(default)]
    pub(super) guess_failures: BTreeMap<String, u32>,
    #[serde(default)]
    pub(super) guess_last_failure_ms: BTreeMap<String, i64>,
    #[serde(default)]
    pub(super) guess_lockouts: BTreeMap<String, u32>,
    #[serde(default)]
    pub(super) guess_locks: BTreeMap<String, i64>,
    #[serde(default)]
    pub(super) guess_hourly: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) guess_locked_until_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct LastSend {
    pub(super) at_ms: i64,
    pub(super) id: String,
    pub(super) expires_at_ms: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl DestinationItem {
    /// The cooldown and cap decision on what this item holds.
    pub(super) fn admit(
        &self,
        purpose: &Purpose,
        policy: SendPolicy,
        now: OffsetDateTime,
    ) -> Result<SendAdmission, StoreError> {
        let times = self
            .sends_ms
            .iter()
            .map(|ms| from_millis(*ms))
            .collect::<Result<Vec<_>, _>>()?;
        let last_for_purpose = self
            .last_sends
            .get(purpose.as_str())
            .map(|last| from_millis(last.at_ms))
            .transpose()?;
        Ok(policy.admit(&times, last_for_purpose, now))
    }

    /// Records an admitted send; returns the code it replaces while that could still be used.
    pub(super) fn record(
        &mut self,
        challenge: &NewChallenge,
        policy: SendPolicy,
    ) -> Result<Option<LastSend>, StoreError> {
        let now_ms = millis(challenge.created_at);
        let lifetime = (challenge.expires_at - challenge.created_at)
            .try_into()
            .unwrap_or_default();
        self.kept_for_ms = self
            .kept_for_ms
            .max(policy.remembered_for(lifetime).as_millis() as i64);
        self.version += 1;
        self.sends_ms.push(now_ms);
        let replaced = self.last_sends.insert(
            challenge.purpose.as_str().to_owned(),
            LastSend {
                at_ms: now_ms,
                id: challenge.id.as_str().to_owned(),
                expires_at_ms: millis(challenge.expires_at),
            },
        );
        let keep_until = self
            .guesses()?
            .keep_until()
            .map(millis)
            .unwrap_or(now_ms)
            .max(now_ms + self.kept_for_ms);
        self.purge_at = purge_seconds(from_millis(keep_until)?);
        Ok(replaced.filter(|old| old.expires_at_ms > now_ms))
    }

    /// Drops what no rule needs any more: sends and last sends older than the longest any send here
    /// matters (see `kept_for_ms`), unless a last send's code still lives.
    pub(super) fn prune(
        &mut self,
        now: OffsetDateTime,
        policy: SendPolicy,
    ) -> Result<(), StoreError> {
        let mut guesses = self.guesses()?;
        guesses.prune(now);
        self.set_guesses(&guesses);
        let now_ms = millis(now);
        let kept_for = self
            .kept_for_ms
            .max(policy.remembered_for(Duration::ZERO).as_millis() as i64);
        let keep_after = now_ms - kept_for;
        self.sends_ms.retain(|t| *t > keep_after);
        self.last_sends
            .retain(|_, last| last.at_ms > keep_after || last.expires_at_ms > now_ms);
        Ok(())
    }
}

/// The destination item's write, conditional on the version read (or on there being none).
pub(super) fn put_versioned(
    table: &str,
    dest: &DestinationItem,
    read_version: u64,
) -> Result<TransactWriteItem, StoreError> {
    let item = serde_dynamo::to_item(dest).context("mapping the sends item")?;
    let put = Put::builder().table_name(table).set_item(Some(item));
    let put = if read_version == 0 {
        put.condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
    } else {
        put.condition_expression("#version = :read")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":read", AttributeValue::N(read_version.to_string()))
    };
    Ok(TransactWriteItem::builder()
        .put(put.build().context("building the sends put")?)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn pruning_keeps_what_the_cooldown_cap_or_a_pending_code_still_needs() {
        let policy = SendPolicy {
            resend_cooldown: Duration::from_secs(30),
            max_sends: 5,
            window: Duration::from_secs(900),
        };
        let now = OffsetDateTime::from_unix_timestamp(2_000_000).unwrap();
        let ms = |seconds_ago: i64| millis(now) - seconds_ago * 1000;
        let last = |at: i64, expires: i64| LastSend {
            at_ms: ms(at),
            id: "x".into(),
            expires_at_ms: ms(expires),
        };
        let mut dest = DestinationItem {
            sends_ms: vec![ms(1000), ms(900), ms(899), ms(10)],
            last_sends: BTreeMap::from([
                ("cooling".into(), last(10, 1000)),
                ("pending".into(), last(1000, -5)),
                ("done".into(), last(1000, 700)),
            ]),
            ..DestinationItem::default()
        };
        dest.prune(now, policy).unwrap();
        assert_eq!(dest.sends_ms, vec![ms(899), ms(10)]);
        assert_eq!(
            dest.last_sends.keys().collect::<Vec<_>>(),
            ["cooling", "pending"]
        );
    }
}

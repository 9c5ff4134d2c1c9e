//! Quotas: counters a send is charged to, each refused once a charge would pass its limit. A counter
//! every send of a kind writes (all SMS this hour, one country's, the day's spend) is split into
//! shards, each its own item holding its share of the limit, so no item takes more than its share
//! of the writes (DynamoDB serialises writes to one item, and cancels a transaction that meets
//! another on it). The rule for where a charge goes lives here; the stores apply it.
//!
//! A send charges one shard, picked from its own randomness, and the next when that one is full,
//! so a limit is never exceeded (each shard holds its share) and none of it is left unused while
//! any shard has room: when no shard has room for the whole charge but all of them together do
//! (a spend near the end of the day), the charge is split across them.

use time::OffsetDateTime;

/// Which counter refused a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    /// Sends from one client address this hour.
    ClientAddress,
    /// SMS to one country calling code this hour.
    Country,
    /// SMS in all this hour.
    Global,
    /// Spend on SMS and calls today.
    SmsBudget,
    /// Email in all this hour.
    EmailGlobal,
    /// Calls to one country calling code this hour.
    VoiceCountry,
    /// Calls in all this hour.
    VoiceGlobal,
}

/// A counter a send is charged to: refused if `amount` would take it past `limit`. The counter
/// starts at zero. Its name names its window, so a later window is another counter; a store may
/// forget it after `resets_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub kind: QuotaKind,
    /// Unique per window, e.g. `country#44#2026-11-22T13`; holds no address.
    pub counter: String,
    pub amount: u64,
    pub limit: u64,
    pub resets_at: OffsetDateTime,
    /// How many items the counter is split into (1: one item, named `counter`).
    pub shards: u16,
}

/// The most shards a counter may have.
pub const MAX_SHARDS: u16 = 64;

/// What a store knows of one shard's room (its share of the limit, less what it was charged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Not read: a charge may be tried on it, and its write's condition decides.
    Unknown,
    /// Exactly this much is left.
    Exactly(u64),
    /// Less than this is left (a charge of this much was refused).
    Below(u64),
}

/// Part of a charge, on one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub shard: u16,
    /// The shard's item name: [`Quota::shard_counter`].
    pub counter: String,
    pub amount: u64,
    /// The shard's share of the limit: the charge is refused if it would take the shard past it.
    pub limit: u64,
}

/// Where a charge goes, given what is known of the shards' rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Make these charges (one, or the charge split across shards), each refused past its limit.
    Charge(Vec<Charge>),
    /// No shard known to have room for the whole charge, some known only roughly: read them.
    ReadShards,
    /// The shards together have no room for it: the quota is full.
    Full,
}

impl Quota {
    fn shard_count(&self) -> u16 {
        self.shards.clamp(1, MAX_SHARDS)
    }

    /// The item of shard `shard`: the counter itself when it has one shard.
    pub fn shard_counter(&self, shard: u16) -> String {
        if self.shard_count() == 1 {
            self.counter.clone()
        } else {
            format!("{}#{shard:02}", self.counter)
        }
    }

    /// Every shard's item, in order.
    pub fn shard_counters(&self) -> Vec<String> {
        (0..self.shard_count())
            .map(|shard| self.shard_counter(shard))
            .collect()
    }

    /// Shard `shard`'s share of the limit: the limit split as evenly as whole units allow, the
    /// shares summing to the limit.
    pub fn shard_limit(&self, shard: u16) -> u64 {
        let n = u64::from(self.shard_count());
        self.limit / n + u64::from(u64::from(shard) < self.limit % n)
    }

    /// The shard send `send` (its random challenge id) tries first: sends spread evenly over the
    /// shards without coordinating. FNV-1a of the id and the counter's name, so one send's
    /// counters do not all pick the same shard, then MurmurHash3's 64-bit finaliser: FNV's low
    /// bits depend only on the inputs' low bits, which made one send's shards of two counters a
    /// fixed permutation of each other.
    pub fn first_shard(&self, send: &str) -> u16 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in send.bytes().chain([0]).chain(self.counter.bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        hash ^= hash >> 33;
        (hash % u64::from(self.shard_count())) as u16
    }

    /// The room of each shard of a counter whose shards stand at `used` (one per shard, in order).
    pub fn rooms(&self, used: &[u64]) -> Vec<Room> {
        (0..self.shard_count())
            .map(|shard| {
                let used = used.get(usize::from(shard)).copied().unwrap_or(0);
                Room::Exactly(self.shard_limit(shard).saturating_sub(used))
            })
            .collect()
    }

    /// Where this charge goes, trying the shards from `first` on: the first one not known to be
    /// too full takes it all; when every shard is known and none can take it alone, their rooms
    /// together, in that order; when they cannot, [`Plan::Full`].
    pub fn plan(&self, first: u16, rooms: &[Room]) -> Plan {
        let n = self.shard_count();
        let order = (0..n).map(|k| (first % n + k) % n);
        let room = |shard: u16| {
            rooms
                .get(usize::from(shard))
                .copied()
                .unwrap_or(Room::Unknown)
        };
        let charge = |shard: u16, amount: u64| Charge {
            shard,
            counter: self.shard_counter(shard),
            amount,
            limit: self.shard_limit(shard),
        };
        if self.amount == 0 {
            return Plan::Charge(vec![charge(first % n, 0)]);
        }
        for shard in order.clone() {
            match room(shard) {
                Room::Unknown if self.shard_limit(shard) >= self.amount => {
                    return Plan::Charge(vec![charge(shard, self.amount)]);
                }
                Room::Exactly(left) if left >= self.amount => {
                    return Plan::Charge(vec![charge(shard, self.amount)]);
                }
                _ => {}
            }
        }
        // No shard takes it alone. Split it, if the rooms known exactly add up to it.
        let mut parts = Vec::new();
        let mut wanted = self.amount;
        for shard in order {
            let left = match room(shard) {
                Room::Exactly(left) => left,
                // Less than one unit left is nothing left.
                Room::Below(1) => 0,
                Room::Unknown => self.shard_limit(shard),
                Room::Below(_) => return Plan::ReadShards,
            };
            let part = left.min(wanted);
            if part > 0 {
                parts.push(charge(shard, part));
                wanted -= part;
            }
            if wanted == 0 {
                return Plan::Charge(parts);
            }
        }
        Plan::Full
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(amount: u64, limit: u64, shards: u16) -> Quota {
        Quota {
            kind: QuotaKind::Global,
            counter: "sms#2026-12-06T13".into(),
            amount,
            limit,
            resets_at: OffsetDateTime::UNIX_EPOCH,
            shards,
        }
    }

    fn charges(plan: Plan) -> Vec<(u16, u64)> {
        match plan {
            Plan::Charge(charges) => charges.iter().map(|c| (c.shard, c.amount)).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_shares_sum_to_the_limit_and_differ_by_one_at_most() {
        for (limit, shards) in [(1000, 16), (40, 16), (7, 16), (1, 16), (0, 4), (200, 1)] {
            let q = quota(1, limit, shards);
            let shares: Vec<u64> = (0..shards).map(|s| q.shard_limit(s)).collect();
            assert_eq!(shares.iter().sum::<u64>(), limit, "{limit}/{shards}");
            let (min, max) = (shares.iter().min(), shares.iter().max());
            assert!(max.unwrap() - min.unwrap() <= 1, "{shares:?}");
        }
        assert_eq!(quota(1, 5, 1).shard_counter(0), "sms#2026-12-06T13");
        assert_eq!(quota(1, 5, 16).shard_counter(7), "sms#2026-12-06T13#07");
        assert_eq!(quota(1, 5, 16).shard_counters().len(), 16);
    }

    #[test]
    fn sends_spread_evenly_over_the_shards() {
        let q = quota(1, 1000, 16);
        let mut counts = [0u32; 16];
        for send in 0..16_000u64 {
            // Challenge ids are random base32; any distinct strings will do here.
            counts[usize::from(q.first_shard(&format!("{send:032x}")))] += 1;
        }
        for count in counts {
            assert!((900..=1100).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn one_sends_shards_of_two_counters_are_independent() {
        let hour = quota(1, 1000, 16);
        let country = Quota {
            counter: "sms#GB#2026-12-06T13".to_owned(),
            ..quota(1, 1000, 16)
        };
        // Every pair of (hour shard, country shard) about equally often: 256 cells, 62.5 each.
        let mut pairs = [[0u32; 16]; 16];
        for send in 0..16_000u64 {
            let id = format!("{send:032x}");
            let (a, b) = (hour.first_shard(&id), country.first_shard(&id));
            pairs[usize::from(a)][usize::from(b)] += 1;
        }
        for row in pairs {
            for count in row {
                assert!((25..=110).contains(&count), "{pairs:?}");
            }
        }
    }

    #[test]
    fn a_charge_goes_to_its_first_shard_with_room_and_is_refused_only_when_all_are_full() {
        let q = quota(1, 32, 16);
        let unknown = vec![Room::Unknown; 16];
        assert_eq!(charges(q.plan(5, &unknown)), [(5, 1)]);
        let mut rooms = q.rooms(&[1; 16]);
        rooms[5] = Room::Exactly(0);
        assert_eq!(charges(q.plan(5, &rooms)), [(6, 1)], "the next shard");
        rooms[6] = Room::Below(1);
        assert_eq!(charges(q.plan(5, &rooms)), [(7, 1)], "refused once: full");
        assert_eq!(q.plan(3, &q.rooms(&[2; 16])), Plan::Full);
        let mut used = [2; 16];
        used[15] = 1;
        assert_eq!(
            charges(q.plan(3, &q.rooms(&used))),
            [(15, 1)],
            "the last unit is used"
        );
    }

    /// A spend near the end of the day: no shard has room for a whole SMS, together they do.
    #[test]
    fn a_charge_no_shard_can_take_alone_is_split_so_none_of_the_limit_goes_unused() {
        let q = quota(100_000, 1_600_000, 16); // a $0.10 SMS against a $1.60 budget
        let used = [60_000; 16]; // 40_000 left on each: 640_000 in all
        assert_eq!(
            charges(q.plan(14, &q.rooms(&used))),
            [(14, 40_000), (15, 40_000), (0, 20_000)]
        );
        let nearly = [99_990; 16]; // 10 left on each: 160 in all
        assert_eq!(q.plan(0, &q.rooms(&nearly)), Plan::Full);
        // Known only roughly (a shard refused the charge): read the shards first.
        let mut rooms = vec![Room::Below(100_000); 16];
        assert_eq!(q.plan(0, &rooms), Plan::ReadShards);
        rooms = q.rooms(&used);
        rooms[3] = Room::Below(100_000);
        assert_eq!(q.plan(3, &rooms), Plan::ReadShards);
    }

    #[test]
    fn a_charge_larger_than_the_limit_is_full_however_the_shards_stand() {
        let q = quota(5, 4, 1);
        assert_eq!(q.plan(0, &[Room::Unknown]), Plan::Full);
        let q = quota(5, 4, 16);
        assert_eq!(q.plan(0, &vec![Room::Unknown; 16]), Plan::Full);
        assert_eq!(
            charges(quota(0, 0, 16).plan(3, &[])),
            [(3, 0)],
            "nothing to charge"
        );
    }
}

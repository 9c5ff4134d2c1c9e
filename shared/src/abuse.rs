//! The rules against abuse, SMS pumping above all: velocity limits counted in the store, the SMS
//! country allow-list and line types, the daily SMS budget, and the test destinations, which send
//! nothing and so skip the SMS rules, but not the client's quota or the guess budget. Parsed from configuration; the send use case applies them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use time::{OffsetDateTime, Time};
use zeroize::Zeroizing;

use crate::domain::{
    Channel, CodeAttempt, Destination, Invalid, LineType, Money, PhoneNumber, Region,
};
use crate::ports::{Quota, QuotaKind};

/// Sends counted per clock hour. Fixed windows: one counter item per hour, so the check and the
/// count are one conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VelocityLimits {
    /// Sends of any channel from one client address (IPv6: its /64).
    pub client_sends_per_hour: u32,
    /// SMS to one country calling code.
    pub country_sms_per_hour: u32,
    /// SMS in all.
    pub global_sms_per_hour: u32,
    /// Email in all.
    pub global_email_per_hour: u32,
    /// Calls to one country calling code.
    pub country_voice_per_hour: u32,
    /// Calls in all.
    pub global_voice_per_hour: u32,
    /// How many items each counter that every send of a kind writes (all SMS, one country's, the
    /// day's spend…) is split into: each takes 1/`counter_shards` of the writes.
    pub counter_shards: u16,
}

impl Default for VelocityLimits {
    fn default() -> Self {
        Self {
            client_sends_per_hour: 20,
            country_sms_per_hour: 200,
            global_sms_per_hour: 1000,
            global_email_per_hour: 2000,
            // A minute of a call costs what several SMS do, and toll fraud by call pays better
            // than by SMS: calls get a fifth of SMS's room.
            country_voice_per_hour: 40,
            global_voice_per_hour: 200,
            counter_shards: 16,
        }
    }
}

/// The countries SMS may go to by default: the US, Canada, the UK with the Crown Dependencies that
/// share its +44 numbering (Guernsey, the Isle of Man, Jersey), and the 27 EU member states.
pub const DEFAULT_SMS_COUNTRIES: &str = "US,CA,GB,GG,IM,JE,AT,BE,BG,HR,CY,CZ,DK,EE,FI,FR,DE,GR,HU,IE,IT,LV,LT,LU,MT,NL,PL,PT,RO,SK,SI,ES,SE";

/// Where SMS may go and what it may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRules {
    pub allowed_countries: BTreeSet<Region>,
    pub prices: BTreeMap<Region, Money>,
    pub default_price: Money,
    /// Spend allowed per UTC day.
    pub daily_budget: Money,
}

impl Default for SmsRules {
    fn default() -> Self {
        Self {
            allowed_countries: Self::parse_countries(DEFAULT_SMS_COUNTRIES)
                .expect("the default list parses"),
            prices: BTreeMap::new(),
            default_price: Money::from_micros(100_000),
            daily_budget: Money::from_micros(100_000_000),
        }
    }
}

/// Why an SMS may not go to a number, whatever the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberRefusal {
    CountryNotAllowed,
    LineTypeNotAllowed(LineType),
}

impl SmsRules {
    /// `GB,US,fr`: comma-separated ISO codes, at least one.
    pub fn parse_countries(input: &str) -> Result<BTreeSet<Region>, Invalid> {
        let countries = input
            .split(',')
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .map(Region::parse)
            .collect::<Result<BTreeSet<_>, _>>()?;
        if countries.is_empty() {
            return Err(Invalid::new("must name at least one country"));
        }
        Ok(countries)
    }

    /// `GB=0.0395,US=0.00883`: a price per country.
    pub fn parse_prices(input: &str) -> Result<BTreeMap<Region, Money>, Invalid> {
        input
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (country, price) = entry.split_once('=').ok_or_else(|| {
                    Invalid::new("must be entries such as GB=0.0395, comma-separated")
                })?;
                Ok((Region::parse(country)?, Money::parse(price)?))
            })
            .collect()
    }

    /// Whether an SMS may go to `number` (see [`admits_number`]).
    pub fn admits_sms(&self, number: &PhoneNumber) -> Result<(), NumberRefusal> {
        admits_number(&self.allowed_countries, number, LineType::takes_sms)
    }

    /// The price of one SMS segment to `number`.
    pub fn price(&self, number: &PhoneNumber) -> Money {
        number
            .region()
            .and_then(|region| self.prices.get(&region).copied())
            .unwrap_or(self.default_price)
    }

    /// What an SMS of `segments` segments to `number` costs: the carrier bills each segment.
    pub fn charge(&self, number: &PhoneNumber, segments: usize) -> Money {
        self.price(number)
            .times(u64::try_from(segments).unwrap_or(u64::MAX))
    }
}

/// Whether a message may go to `number` at all: its country on `allowed`, its line one that
/// `takes` (SMS: [`LineType::takes_sms`]; calls: [`LineType::takes_calls`]). Numbers outside any
/// country (+800, +882…) are never allowed.
fn admits_number(
    allowed: &BTreeSet<Region>,
    number: &PhoneNumber,
    takes: fn(LineType) -> bool,
) -> Result<(), NumberRefusal> {
    if !number
        .region()
        .is_some_and(|region| allowed.contains(&region))
    {
        return Err(NumberRefusal::CountryNotAllowed);
    }
    if !takes(number.line_type()) {
        return Err(NumberRefusal::LineTypeNotAllowed(number.line_type()));
    }
    Ok(())
}

/// Where calls may go and what a minute costs. Their spend counts against the SMS budget
/// ([`SmsRules::daily_budget`]): one day's telephony spend, whichever way a code went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceRules {
    /// By default the SMS list (`OTP_VOICE_ALLOWED_COUNTRIES` unset).
    pub allowed_countries: BTreeSet<Region>,
    /// The price of a minute of a call, per country.
    pub prices: BTreeMap<Region, Money>,
    pub default_price: Money,
    /// How many times a call says the code.
    pub repeats: u8,
}

impl Default for VoiceRules {
    fn default() -> Self {
        Self {
            allowed_countries: SmsRules::default().allowed_countries,
            prices: BTreeMap::new(),
            default_price: Money::from_micros(100_000),
            repeats: crate::messages::DEFAULT_REPEATS,
        }
    }
}

impl VoiceRules {
    /// Whether a call may go to `number`: its country on the voice allow-list, its line one that
    /// takes calls (fixed lines do; premium-rate and the like do not).
    pub fn admits(&self, number: &PhoneNumber) -> Result<(), NumberRefusal> {
        admits_number(&self.allowed_countries, number, LineType::takes_calls)
    }

    /// What a call of `minutes` (billed whole minutes) to `number` costs.
    pub fn charge(&self, number: &PhoneNumber, minutes: u64) -> Money {
        number
            .region()
            .and_then(|region| self.prices.get(&region).copied())
            .unwrap_or(self.default_price)
            .times(minutes)
    }
}

/// The clock hour `now` is in, as a counter names it, and when it ends.
fn clock_hour(now: OffsetDateTime) -> (String, OffsetDateTime) {
    let hour_start = now.replace_time(Time::from_hms(now.hour(), 0, 0).expect("a valid hour"));
    let hour = format!("{}T{:02}", hour_start.date(), hour_start.hour());
    (hour, hour_start + Duration::from_secs(3600))
}

/// The per-client counter alone: what a send to a test destination is charged to.
pub fn client_quota(
    limits: &VelocityLimits,
    client: Option<&str>,
    now: OffsetDateTime,
) -> Option<Quota> {
    let (hour, next_hour) = clock_hour(now);
    // One item: only this client's sends write it.
    Some(Quota {
        kind: QuotaKind::ClientAddress,
        counter: format!("client#{}#{hour}", client?),
        amount: 1,
        limit: limits.client_sends_per_hour.into(),
        resets_at: next_hour,
        shards: 1,
    })
}

/// The counters a send is charged to, each refused once it would pass its limit. Sends to test
/// destinations are charged to the client's alone ([`client_quota`]). An SMS or a call is charged
/// `spend` (its price: [`SmsRules::charge`], [`VoiceRules::charge`]) against the day's budget.
pub fn quotas(
    limits: &VelocityLimits,
    sms: &SmsRules,
    destination: &Destination,
    spend: Money,
    client: Option<&str>,
    now: OffsetDateTime,
) -> Vec<Quota> {
    let (hour, next_hour) = clock_hour(now);
    let mut quotas = Vec::with_capacity(4);
    quotas.extend(client_quota(limits, client, now));
    let counted = |kind, counter: String, limit: u32| Quota {
        kind,
        counter,
        amount: 1,
        limit: limit.into(),
        resets_at: next_hour,
        shards: limits.counter_shards,
    };
    match destination {
        Destination::Email(_) => {
            quotas.push(counted(
                QuotaKind::EmailGlobal,
                format!("email#{hour}"),
                limits.global_email_per_hour,
            ));
            return quotas;
        }
        Destination::Sms(number) => {
            quotas.push(counted(
                QuotaKind::Country,
                format!("country#{}#{hour}", number.country_calling_code()),
                limits.country_sms_per_hour,
            ));
            quotas.push(counted(
                QuotaKind::Global,
                format!("sms#{hour}"),
                limits.global_sms_per_hour,
            ));
        }
        Destination::Voice(number) => {
            quotas.push(counted(
                QuotaKind::VoiceCountry,
                format!("voice#country#{}#{hour}", number.country_calling_code()),
                limits.country_voice_per_hour,
            ));
            quotas.push(counted(
                QuotaKind::VoiceGlobal,
                format!("voice#{hour}"),
                limits.global_voice_per_hour,
            ));
        }
    }
    let day_start = now.replace_time(Time::MIDNIGHT);
    quotas.push(Quota {
        kind: QuotaKind::SmsBudget,
        counter: format!("spend#{}", day_start.date()),
        amount: spend.micros(),
        limit: sms.daily_budget.micros(),
        resets_at: day_start + Duration::from_secs(86_400),
        shards: limits.counter_shards,
    });
    quotas
}

/// How a profile's test destinations are read: [`TestDestinations::from_pairs`], or, in a function
/// that sends nothing, one that ignores them.
pub type TestDestinationsParser = fn(&[(&str, &str)]) -> Result<TestDestinations, Invalid>;

/// Phone numbers and email addresses that get a fixed code and no message, for app-store reviewers
/// and client apps' CI. Empty unless configured.
#[derive(Clone, Default)]
pub struct TestDestinations(Vec<(String, Zeroizing<String>)>);

impl TestDestinations {
    /// A fixed code is at least this long: it is known to more people than a random one, and the
    /// guess budget alone stands between it and a stranger.
    pub const MIN_CODE_LENGTH: usize = 8;

    /// `+12025550143=13579024,review@example.com=ab12cd34`: each destination with its code (8–10
    /// letters or digits). Errors never repeat a code.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        Self::from_entries(
            input
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|entry| {
                    entry.rsplit_once('=').ok_or_else(|| {
                        Invalid::new(
                            "must be entries such as +12025550143=13579024, comma-separated",
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    }

    /// [`Self::from_entries`] of a slice, as [`crate::profiles::Profiles::parse_with`] takes it.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, Invalid> {
        Self::from_entries(pairs.iter().copied())
    }

    /// Each destination with its code, as a profile lists them.
    pub fn from_entries<'a>(
        entries_in: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Invalid> {
        let mut entries = Vec::new();
        for (to, code) in entries_in {
            let channel = if to.contains('@') {
                Channel::Email
            } else {
                Channel::Sms
            };
            let destination = Destination::parse(channel, to)
                .map_err(|e| Invalid::new(format!("has a destination that {e}")))?;
            let code = CodeAttempt::parse(code)
                .ok()
                .filter(|c| (Self::MIN_CODE_LENGTH..=10).contains(&c.expose().len()))
                .ok_or_else(|| Invalid::new("has a code that is not 8 to 10 letters or digits"))?;
            let canonical = destination.canonical();
            if entries.iter().any(|(known, _)| *known == canonical) {
                return Err(Invalid::new("names a destination twice"));
            }
            entries.push((canonical, Zeroizing::new(code.expose().to_owned())));
        }
        Ok(Self(entries))
    }

    /// The fixed code of a test destination.
    pub fn code_for(&self, destination: &Destination) -> Option<&str> {
        let canonical = destination.canonical();
        self.0
            .iter()
            .find(|(known, _)| *known == canonical)
            .map(|(_, code)| code.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for TestDestinations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TestDestinations({} configured)", self.0.len())
    }
}

impl PartialEq for TestDestinations {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.0 == b.0 && *a.1 == *b.1)
    }
}

/// The part of a client address that identifies one client: an IPv4 address, or an IPv6 /64 (one
/// subscriber gets a whole /64, so counting single v6 addresses would count nothing).
pub fn client_network(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(number: &str) -> PhoneNumber {
        PhoneNumber::parse(number).unwrap()
    }

    #[test]
    fn the_default_allow_list_has_north_america_the_uk_and_the_eu() {
        let rules = SmsRules::default();
        assert_eq!(rules.allowed_countries.len(), 33);
        for allowed in [
            "+447912345678",
            "+14155552671",
            "+33612345678",
            "+4915112345678",
        ] {
            assert_eq!(rules.admits_sms(&phone(allowed)), Ok(()), "{allowed}");
        }
        for refused in ["+917012345678", "+8613812345678", "+2348031234567"] {
            assert_eq!(
                rules.admits_sms(&phone(refused)),
                Err(NumberRefusal::CountryNotAllowed),
                "{refused}"
            );
        }
    }

    #[test]
    fn premium_shared_cost_and_fixed_lines_are_refused() {
        let rules = SmsRules::default();
        for (number, line) in [
            ("+449098790000", LineType::PremiumRate),
            ("+33810123456", LineType::SharedCost),
            ("+19005550100", LineType::PremiumRate),
            ("+442079460000", LineType::FixedLine),
            ("+448001234567", LineType::TollFree),
            ("+447012345678", LineType::PersonalNumber),
            ("+445612345678", LineType::Voip),
        ] {
            assert_eq!(phone(number).line_type(), line, "{number}");
            assert_eq!(
                rules.admits_sms(&phone(number)),
                Err(NumberRefusal::LineTypeNotAllowed(line)),
                "{number}"
            );
        }
    }

    #[test]
    fn prices_fall_back_to_the_default() {
        let rules = SmsRules {
            prices: SmsRules::parse_prices("GB=0.0395, us=0.00883").unwrap(),
            ..SmsRules::default()
        };
        assert_eq!(rules.price(&phone("+447912345678")).to_string(), "0.0395");
        assert_eq!(rules.price(&phone("+14155552671")).to_string(), "0.00883");
        assert_eq!(rules.price(&phone("+33612345678")).to_string(), "0.10");
        assert!(SmsRules::parse_prices("GB").is_err());
        assert!(SmsRules::parse_prices("XX=1").is_err());
        assert!(SmsRules::parse_countries(" , ").is_err());
    }

    #[test]
    fn sms_quotas_count_per_client_country_hour_and_day() {
        let now = time::macros::datetime!(2026-11-22 13:45:10 UTC);
        let to = Destination::Sms(phone("+447912345678"));
        let quotas = quotas(
            &VelocityLimits::default(),
            &SmsRules::default(),
            &to,
            Money::from_micros(100_000),
            Some("abc"),
            now,
        );
        let summary: Vec<_> = quotas
            .iter()
            .map(|q| (q.kind, q.counter.as_str(), q.amount, q.limit))
            .collect();
        assert_eq!(
            summary,
            [
                (QuotaKind::ClientAddress, "client#abc#2026-11-22T13", 1, 20),
                (QuotaKind::Country, "country#44#2026-11-22T13", 1, 200),
                (QuotaKind::Global, "sms#2026-11-22T13", 1, 1000),
                (
                    QuotaKind::SmsBudget,
                    "spend#2026-11-22",
                    100_000,
                    100_000_000
                ),
            ]
        );
        assert_eq!(
            quotas[0].resets_at,
            time::macros::datetime!(2026-11-22 14:00 UTC)
        );
        assert_eq!(
            quotas[3].resets_at,
            time::macros::datetime!(2026-11-23 00:00 UTC)
        );
        let email = Destination::parse(Channel::Email, "ana@example.com").unwrap();
        let email_quotas = super::quotas(
            &VelocityLimits::default(),
            &SmsRules::default(),
            &email,
            Money::from_micros(0),
            Some("abc"),
            now,
        );
        let summary: Vec<_> = email_quotas
            .iter()
            .map(|q| (q.kind, q.counter.as_str(), q.amount, q.limit))
            .collect();
        assert_eq!(
            summary,
            [
                (QuotaKind::ClientAddress, "client#abc#2026-11-22T13", 1, 20),
                (QuotaKind::EmailGlobal, "email#2026-11-22T13", 1, 2000),
            ],
            "email is counted per client and in all, never against SMS limits or the budget"
        );
        assert_eq!(
            email_quotas[1].resets_at,
            time::macros::datetime!(2026-11-22 14:00 UTC)
        );
    }

    #[test]
    fn the_budget_is_charged_the_price_of_every_segment() {
        let now = time::macros::datetime!(2026-11-22 13:45:10 UTC);
        let rules = SmsRules {
            prices: SmsRules::parse_prices("GB=0.0395").unwrap(),
            ..SmsRules::default()
        };
        let to = phone("+447912345678");
        // A UCS-2 text (an accent outside GSM-7) of 71 to 134 UTF-16 units is two segments.
        let text = "ó".repeat(100);
        let size = crate::messages::sms_size(&text);
        assert_eq!(size.encoding, crate::messages::SmsEncoding::Ucs2);
        assert_eq!(size.segments, 2);
        let budget_charge = |segments| {
            quotas(
                &VelocityLimits::default(),
                &rules,
                &Destination::Sms(to.clone()),
                rules.charge(&to, segments),
                None,
                now,
            )
            .into_iter()
            .find(|q| q.kind == QuotaKind::SmsBudget)
            .map(|q| q.amount)
        };
        assert_eq!(budget_charge(1), Some(39_500));
        assert_eq!(budget_charge(size.segments), Some(79_000));
        assert_eq!(budget_charge(3), Some(118_500));
        assert_eq!(rules.charge(&to, 3).to_string(), "0.1185");
        // Every other counter counts the message once, however long.
        let per_message: Vec<_> = quotas(
            &VelocityLimits::default(),
            &rules,
            &Destination::Sms(to.clone()),
            rules.charge(&to, 3),
            None,
            now,
        )
        .into_iter()
        .filter(|q| q.kind != QuotaKind::SmsBudget)
        .map(|q| q.amount)
        .collect();
        assert_eq!(per_message, [1, 1]);
    }

    #[test]
    fn calls_count_on_their_own_counters_and_the_shared_budget() {
        let now = time::macros::datetime!(2026-11-22 13:45:10 UTC);
        let voice = VoiceRules {
            prices: SmsRules::parse_prices("GB=0.0135").unwrap(),
            ..VoiceRules::default()
        };
        let fixed = phone("+442079460000");
        assert_eq!(voice.admits(&fixed), Ok(()), "a fixed line takes calls");
        assert_eq!(
            voice.admits(&phone("+449098790000")),
            Err(NumberRefusal::LineTypeNotAllowed(LineType::PremiumRate))
        );
        assert_eq!(
            voice.admits(&phone("+917012345678")),
            Err(NumberRefusal::CountryNotAllowed)
        );
        assert_eq!(voice.charge(&fixed, 2).to_string(), "0.027");
        assert_eq!(voice.charge(&phone("+33612345678"), 1).to_string(), "0.10");
        let summary: Vec<_> = quotas(
            &VelocityLimits::default(),
            &SmsRules::default(),
            &Destination::Voice(fixed.clone()),
            voice.charge(&fixed, 1),
            Some("abc"),
            now,
        )
        .into_iter()
        .map(|q| (q.kind, q.counter, q.amount, q.limit))
        .collect();
        assert_eq!(
            summary,
            [
                (
                    QuotaKind::ClientAddress,
                    "client#abc#2026-11-22T13".into(),
                    1,
                    20
                ),
                (
                    QuotaKind::VoiceCountry,
                    "voice#country#44#2026-11-22T13".into(),
                    1,
                    40
                ),
                (QuotaKind::VoiceGlobal, "voice#2026-11-22T13".into(), 1, 200),
                (
                    QuotaKind::SmsBudget,
                    "spend#2026-11-22".into(),
                    13_500,
                    100_000_000
                ),
            ],
            "a call is never counted against the SMS counters, but spends the same day's budget"
        );
    }

    #[test]
    fn test_destinations_match_canonical_forms_and_hide_their_codes() {
        let tests =
            TestDestinations::parse("+1 415 555 2671=12345678, Review@Example.com=ab12cd34")
                .unwrap();
        assert_eq!(tests.len(), 2);
        let phone = Destination::parse(Channel::Sms, "+14155552671").unwrap();
        assert_eq!(tests.code_for(&phone), Some("12345678"));
        let email = Destination::parse(Channel::Email, "Review@example.COM").unwrap();
        assert_eq!(tests.code_for(&email), Some("AB12CD34"));
        let other = Destination::parse(Channel::Sms, "+447912345678").unwrap();
        assert_eq!(tests.code_for(&other), None);
        // Exact addresses, not mailboxes: a tag makes another address, which is not a test one.
        let tagged = Destination::parse(Channel::Email, "review+1@example.com").unwrap();
        assert_eq!(tests.code_for(&tagged), None);
        assert!(!format!("{tests:?}").contains("12345678"));
        for bad in [
            "+14155552671",
            "+14155552671=98",
            "nobody=12345678",
            "+14155552671=1234567",
            "+14155552671=98769876,+1 415 555 2671=56785678",
        ] {
            let error = TestDestinations::parse(bad).unwrap_err().to_string();
            assert!(
                !error.contains("9876") && !error.contains("5678") && !error.contains("1234567"),
                "{error}"
            );
        }
        assert!(TestDestinations::parse("").unwrap().is_empty());
    }

    #[test]
    fn clients_are_counted_by_ipv4_address_or_ipv6_64() {
        assert_eq!(
            client_network("203.0.113.9".parse().unwrap()),
            "203.0.113.9"
        );
        assert_eq!(
            client_network("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            client_network("2001:db8:1:2:ffff::1".parse().unwrap())
        );
        assert_eq!(
            client_network("::ffff:203.0.113.9".parse().unwrap()),
            "203.0.113.9"
        );
    }
}

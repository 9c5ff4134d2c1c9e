//! libphonenumber's metadata, built one country calling code at a time.
//!
//! The `phonenumber` crate's own database checks the syntax of every pattern of all 254 regions the
//! first time any number is parsed: some 105 ms of CPU, about 0.7 s at a 256 MB Lambda's share of a
//! vCPU, paid by the first send of every new instance (BENCHMARKS.md, "Cold start"). build.rs writes
//! the same metadata grouped by calling code, and a group becomes a `Database` the first time a
//! number with that code is parsed: +44's four regions in 3.5 ms, +1's 25 in 11 ms. Each group also
//! keeps its own cache of compiled patterns, so one country's traffic cannot evict another's.

use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};

use phonenumber::metadata::{Database, loader};

static GROUPS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/phone-metadata.postcard"));

struct Group {
    regions: &'static [u8],
    database: OnceLock<Option<Database>>,
}

static BY_CODE: LazyLock<BTreeMap<u16, Group>> = LazyLock::new(|| {
    // Written by build.rs from the same crate: it cannot fail unless the build itself is broken,
    // and then no number parses (every send refused as invalid) rather than a panic per request.
    let groups: Vec<(u16, &'static [u8])> = postcard::from_bytes(GROUPS).unwrap_or_default();
    groups
        .into_iter()
        .map(|(code, regions)| {
            let database = OnceLock::new();
            (code, Group { regions, database })
        })
        .collect()
});

/// The metadata of the regions that share the calling code `number` (E.164, `+` first, spaces and
/// punctuation allowed) starts with; `None` for a code no region has.
pub(crate) fn for_number(number: &str) -> Option<&'static Database> {
    let digits: Vec<u8> = number
        .bytes()
        .skip_while(|b| *b != b'+')
        .filter(u8::is_ascii_digit)
        .take(3)
        .collect();
    // Calling codes are prefix-free (ITU-T E.164): at most one of the 1-, 2- and 3-digit prefixes is one.
    (1..=digits.len()).find_map(|len| {
        let code = digits[..len]
            .iter()
            .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
        for_code(code)
    })
}

/// The metadata of the regions with calling code `code`, built on first use.
pub(crate) fn for_code(code: u16) -> Option<&'static Database> {
    let group = BY_CODE.get(&code)?;
    group
        .database
        .get_or_init(|| {
            let regions: Vec<loader::Metadata> = postcard::from_bytes(group.regions).ok()?;
            Database::from(regions).ok()
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything the crate's database says of a region, as text (its patterns by their source).
    fn described(meta: &phonenumber::Metadata) -> String {
        format!("{meta:?}")
    }

    #[test]
    fn every_region_is_exactly_the_crates_own() {
        let full = &*phonenumber::metadata::DATABASE;
        let mut regions = 0;
        for code in 1..1000u16 {
            let Some(theirs) = full.by_code(&code) else {
                assert!(for_code(code).is_none(), "+{code} has no regions");
                continue;
            };
            let group = for_code(code).expect("every calling code has a group");
            // In the same order: it decides which region a number is tried against first.
            let ours = group.by_code(&code).expect("the group has its own code");
            assert_eq!(ours.len(), theirs.len(), "+{code}");
            for (ours, theirs) in ours.into_iter().zip(theirs) {
                assert_eq!(
                    described(ours),
                    described(theirs),
                    "+{code} {}",
                    theirs.id()
                );
                regions += 1;
            }
            assert_eq!(group.region(&code), full.region(&code), "+{code}");
        }
        assert_eq!(
            regions, 254,
            "the crate's metadata lists 254 regions and entities"
        );
    }

    #[test]
    fn a_number_finds_its_calling_code() {
        assert!(for_number("+44 7400 123456").unwrap().by_id("GB").is_some());
        assert!(
            for_number("+1 (415) 555-2671")
                .unwrap()
                .by_id("US")
                .is_some()
        );
        assert!(for_number("+447400123456").unwrap().by_id("GB").is_some());
        assert!(for_number("+3531234567").unwrap().by_id("IE").is_some());
        assert!(for_number("+8801812345678").unwrap().by_id("BD").is_some());
        assert!(for_number("+999123").is_none(), "no region has +999");
        assert!(for_number("+").is_none());
        assert!(for_number("447400123456").is_none(), "no + no code");
    }

    #[test]
    fn each_example_number_reads_the_same_as_with_the_crates_database() {
        use phonenumber::metadata::DATABASE;
        let every_region = (1..1000u16)
            .filter_map(|code| DATABASE.by_code(&code))
            .flatten();
        for meta in every_region {
            let descriptors = meta.descriptors();
            let examples = [
                descriptors.mobile(),
                descriptors.fixed_line(),
                descriptors.toll_free(),
                descriptors.premium_rate(),
                descriptors.voip(),
            ];
            for example in examples.into_iter().flatten().filter_map(|d| d.example()) {
                let input = format!("+{}{example}", meta.country_code());
                let theirs = phonenumber::parse(None, &input);
                let ours = phonenumber::parse_with(for_number(&input).unwrap(), None, &input);
                match (theirs, ours) {
                    (Ok(theirs), Ok(ours)) => {
                        assert_eq!(theirs, ours, "{input}");
                        let db = for_number(&input).unwrap();
                        assert_eq!(
                            ours.number_type(db),
                            theirs.number_type(&DATABASE),
                            "{input}"
                        );
                        assert_eq!(
                            phonenumber::is_valid_with(db, &ours),
                            theirs.is_valid(),
                            "{input}"
                        );
                    }
                    (Err(_), Err(_)) => {}
                    (theirs, ours) => panic!("{input}: {theirs:?} against {ours:?}"),
                }
            }
        }
    }
}

//! Masks show at most what their doc comments promise, for valid inputs generated from real
//! numbering plans and varied email addresses: a phone number's country calling code and last three
//! digits (two for short numbers), an email's first character (when its local part has two or
//! more) and domain, with a fixed run of mask characters that hides the local part's length.

use otp_shared::domain::{Channel, Destination, EmailAddress, PhoneNumber};
use proptest::prelude::*;

const MASK: char = '•';

/// Every example number in libphonenumber's metadata (each region, each line type), as E.164.
fn example_numbers() -> Vec<String> {
    let database = &*phonenumber::metadata::DATABASE;
    let mut numbers = Vec::new();
    for region in database.iter() {
        let descriptors = region.descriptors();
        let kinds = [
            descriptors.fixed_line(),
            descriptors.mobile(),
            descriptors.toll_free(),
            descriptors.premium_rate(),
            descriptors.shared_cost(),
            descriptors.personal_number(),
            descriptors.voip(),
            descriptors.pager(),
            descriptors.uan(),
        ];
        for example in kinds.into_iter().flatten().filter_map(|d| d.example()) {
            numbers.push(format!("+{}{example}", region.country_code()));
        }
    }
    numbers
}

/// Valid numbers from all over the world: an example number with its last few digits redrawn,
/// kept when it is still valid.
fn phone_numbers() -> impl Strategy<Value = PhoneNumber> {
    (
        prop::sample::select(example_numbers()),
        prop::collection::vec(0u8..10, 0..=4),
    )
        .prop_filter_map("not a valid number", |(example, tail)| {
            let keep = example.len().saturating_sub(tail.len()).max(2);
            let mut number = example[..keep].to_owned();
            number.extend(tail.iter().map(|d| char::from(b'0' + d)));
            PhoneNumber::parse(&number).ok()
        })
}

fn email_addresses() -> impl Strategy<Value = EmailAddress> {
    let atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~éü日-]{1,12}";
    let local = (atom, prop::collection::vec(atom, 0..3)).prop_map(|(first, rest)| {
        std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join(".")
    });
    let domain = "([a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?\\.){1,3}[a-zA-Z]{2,6}";
    (local, domain).prop_filter_map("not a valid address", |(local, domain)| {
        EmailAddress::parse(&format!("{local}@{domain}")).ok()
    })
}

fn check_phone(phone: &PhoneNumber) -> Result<(), TestCaseError> {
    let e164 = phone.as_e164();
    let prefix = format!("+{}", phone.country_calling_code());
    let national = &e164[prefix.len()..];
    let shown = if national.len() >= 7 { 3 } else { 2 };
    let masked = phone.masked();
    let rest = masked
        .strip_prefix(&prefix)
        .ok_or_else(|| TestCaseError::fail(format!("{masked} lacks {prefix}")))?;
    let hidden = rest.chars().take_while(|c| *c == MASK).count();
    let visible: String = rest.chars().skip(hidden).collect();
    // One mask character per hidden digit, then exactly the last `shown` digits.
    prop_assert_eq!(hidden, national.len() - shown, "{}", masked);
    prop_assert_eq!(visible.as_str(), &national[national.len() - shown..]);
    prop_assert!(hidden > 0 && masked != e164 && !masked.contains(national));
    let debug = format!("{phone:?}");
    prop_assert!(!debug.contains(national), "{}", debug);
    let destination = Destination::parse(Channel::Sms, e164).unwrap();
    prop_assert_eq!(destination.masked(), masked);
    Ok(())
}

fn check_email(email: &EmailAddress) -> Result<(), TestCaseError> {
    let address = email.as_str();
    let (local, domain) = address.rsplit_once('@').unwrap();
    let masked = email.masked();
    let (masked_local, masked_domain) = masked.rsplit_once('@').unwrap();
    prop_assert_eq!(masked_domain, domain);
    // Three mask characters whatever the length, after at most the first character.
    let shown: String = masked_local.chars().filter(|c| *c != MASK).collect();
    prop_assert_eq!(masked_local.chars().filter(|c| *c == MASK).count(), 3);
    prop_assert!(masked_local.ends_with("•••"));
    let first = local.chars().next().unwrap();
    if local.chars().count() >= 2 {
        prop_assert_eq!(shown, first.to_string());
    } else {
        prop_assert_eq!(shown, "");
    }
    prop_assert!(masked != address);
    let debug = format!("{email:?}");
    prop_assert!(!debug.contains(address), "{}", debug);
    let destination = Destination::parse(Channel::Email, address).unwrap();
    prop_assert_eq!(destination.masked(), masked);
    Ok(())
}

#[test]
fn a_masked_phone_number_shows_only_its_country_code_and_last_digits() {
    proptest!(super::config(64), |(phone in phone_numbers())| {
        check_phone(&phone)?;
    });
}

#[test]
fn a_masked_email_shows_only_its_first_character_and_domain() {
    proptest!(super::config(1024), |(email in email_addresses())| {
        check_email(&email)?;
    });
}

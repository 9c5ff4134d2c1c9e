//! Phone number and email address parsing: never a panic, and what parses keeps its invariants:
//! E.164 form, masks that never show the whole address, and parsing the result again gives it back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_shared::domain::{Channel, Destination, EmailAddress, PhoneNumber};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    if let Ok(phone) = PhoneNumber::parse(&text) {
        check_phone(&phone);
    }
    if let Ok(email) = EmailAddress::parse(&text) {
        check_email(&email);
    }
    for channel in [Channel::Sms, Channel::Email] {
        if let Ok(destination) = Destination::parse(channel, &text) {
            assert_eq!(destination.channel(), channel);
            assert!(!destination.masked().contains(destination.address()));
            let again = Destination::parse(channel, destination.address()).expect("reparses");
            assert_eq!(again, destination);
            assert_eq!(again.canonical(), destination.canonical());
        }
    }
});

fn check_phone(phone: &PhoneNumber) {
    let e164 = phone.as_e164();
    let digits = e164.strip_prefix('+').expect("E.164 starts with +");
    let code = phone.country_calling_code().to_string();
    let national = digits
        .strip_prefix(&code)
        .expect("the country calling code comes first");
    // E.164 stops at 15 digits in all, country calling code included (libphonenumber's metadata
    // has valid longer numbers, which parse refuses).
    assert!(
        !national.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()),
        "not E.164: {e164}"
    );
    let masked = phone.masked();
    assert!(
        !masked.contains(e164),
        "the mask shows the number: {masked}"
    );
    let shown: String = masked.chars().filter(char::is_ascii_digit).collect();
    assert!(
        shown.len() < digits.len(),
        "the mask shows every digit: {masked}"
    );
    assert_eq!(
        masked.chars().count(),
        e164.len(),
        "the mask has one character per digit: {masked}"
    );
    let again = PhoneNumber::parse(e164).expect("the E.164 form parses again");
    assert_eq!(again.as_e164(), e164);
    assert_eq!(again.line_type(), phone.line_type());
    assert_eq!(again.region(), phone.region());
}

fn check_email(email: &EmailAddress) {
    let address = email.as_str();
    let (local, domain) = address.rsplit_once('@').expect("an address has an @");
    assert!(!local.is_empty() && !domain.is_empty(), "{address:?}");
    assert_eq!(
        domain,
        domain.to_ascii_lowercase(),
        "the domain is lower-cased"
    );
    // At most the local part's first character, then a mask that does not tell its length.
    let mut chars = local.chars();
    let shown = match (chars.next(), chars.next()) {
        (Some(first), Some(_)) => first.to_string(),
        _ => String::new(),
    };
    assert_eq!(email.masked(), format!("{shown}•••@{domain}"));
    let again = EmailAddress::parse(address).expect("the address parses again");
    assert_eq!(&again, email);
}

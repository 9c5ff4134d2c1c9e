use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Invalid, Region};

/// How a code is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    /// A call that speaks the code.
    Voice,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Sms, Channel::Email, Channel::Voice];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Voice => "voice",
        }
    }

    /// Whether the channel reaches a phone number (and so is under the telephony rules: the
    /// country allow-lists, the line types, the spend budget).
    pub fn is_phone(self) -> bool {
        matches!(self, Channel::Sms | Channel::Voice)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The character shown in place of hidden characters of a destination.
const MASK: char = '•';

/// The most digits an E.164 number has, country calling code included.
const E164_MAX_DIGITS: usize = 15;

/// A valid international phone number, held in E.164 form (`+447911123456`).
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
    region: Option<Region>,
    line_type: LineType,
}

/// What kind of line a number is, as far as libphonenumber's metadata can tell from the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineType {
    Mobile,
    /// Where fixed and mobile ranges cannot be told apart (the US, Canada…).
    FixedLineOrMobile,
    FixedLine,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    PersonalNumber,
    Pager,
    /// Universal access ("company") numbers.
    Uan,
    Voicemail,
    /// Short codes, emergency, carrier-specific and other service numbers.
    Service,
    /// The metadata cannot tell.
    Unknown,
}

impl LineType {
    fn of(number: &phonenumber::PhoneNumber, metadata: &phonenumber::metadata::Database) -> Self {
        use phonenumber::Type;
        match number.number_type(metadata) {
            Type::Mobile => Self::Mobile,
            Type::FixedLineOrMobile => Self::FixedLineOrMobile,
            Type::FixedLine => Self::FixedLine,
            Type::TollFree => Self::TollFree,
            Type::PremiumRate => Self::PremiumRate,
            Type::SharedCost => Self::SharedCost,
            Type::Voip => Self::Voip,
            Type::PersonalNumber => Self::PersonalNumber,
            Type::Pager => Self::Pager,
            Type::Uan => Self::Uan,
            Type::Voicemail => Self::Voicemail,
            Type::Emergency
            | Type::ShortCode
            | Type::StandardRate
            | Type::Carrier
            | Type::NoInternational => Self::Service,
            Type::Unknown => Self::Unknown,
        }
    }

    /// Whether an SMS may go to such a line: mobiles, and numbers the metadata cannot place. Premium
    /// and shared-cost lines are how SMS pumping earns; fixed, VoIP, personal, pager and service
    /// numbers do not prove a person's phone.
    pub fn takes_sms(self) -> bool {
        matches!(self, Self::Mobile | Self::FixedLineOrMobile | Self::Unknown)
    }

    /// Whether a call may go to such a line: what takes an SMS, and fixed lines (reaching them is
    /// what a call is for). Premium-rate, shared-cost and the rest stay refused: calls to them are
    /// how toll fraud earns.
    pub fn takes_calls(self) -> bool {
        self.takes_sms() || self == Self::FixedLine
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mobile => "mobile",
            Self::FixedLineOrMobile => "fixed line or mobile",
            Self::FixedLine => "fixed line",
            Self::TollFree => "toll-free",
            Self::PremiumRate => "premium-rate",
            Self::SharedCost => "shared-cost",
            Self::Voip => "VoIP",
            Self::PersonalNumber => "personal number",
            Self::Pager => "pager",
            Self::Uan => "universal access",
            Self::Voicemail => "voicemail",
            Self::Service => "service",
            Self::Unknown => "unknown",
        }
    }
}

impl PhoneNumber {
    /// Parses an international number (leading `+` and country calling code; spaces, dots, dashes and
    /// brackets allowed) with libphonenumber's metadata, and keeps it only if it is a valid number
    /// whose E.164 form is read back as the same number.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let number = Self::parse_once(input)?;
        // libphonenumber may read a written number's digits otherwise than the same digits in E.164
        // (it can take some after the country code for a carrier prefix: "+55 (90)…" is a premium
        // number, "+5590…" a shorter one). The number is stored, counted and sent by its E.164
        // form, so that form must mean the number that was checked.
        if number.e164 != input.trim()
            && !matches!(Self::parse_once(&number.e164), Ok(again) if again == number)
        {
            return Err(Invalid::new(
                "is ambiguous: written in international form (E.164) it reads as another number",
            ));
        }
        Ok(number)
    }

    fn parse_once(input: &str) -> Result<Self, Invalid> {
        let input = input.trim();
        // Screen the characters before the parser sees them: it only ever needs these, and a tight
        // alphabet keeps odd input away from a large third-party code path.
        let allowed =
            |c: char| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')');
        if input.is_empty() || input.len() > 32 || !input.chars().all(allowed) {
            return Err(Invalid::new(
                "must be a phone number in international form, e.g. +447400123456",
            ));
        }
        if !input.starts_with('+') {
            return Err(Invalid::new(
                "must start with + and the country calling code, e.g. +447400123456",
            ));
        }
        // Only the regions of the number's own calling code (see phone_metadata).
        let not_a_number = || Invalid::new("is not a phone number");
        let metadata = super::phone_metadata::for_number(input).ok_or_else(not_a_number)?;
        let number = phonenumber::parse_with(metadata, None, input).map_err(|_| not_a_number())?;
        let country_code = number.code().value();
        // What the crate's E.164 formatter writes, without it first choosing a display format.
        let e164 = format!("+{country_code}{}", number.national());
        // libphonenumber's metadata has valid numbers of up to 17 digits (German fixed lines), but
        // E.164, which SNS takes, stops at 15.
        if e164.len() - 1 > E164_MAX_DIGITS {
            return Err(Invalid::new(
                "has more than 15 digits, the most an international (E.164) number has",
            ));
        }
        // Each of libphonenumber's questions (valid? which region? what type? formatted?) finds the
        // number's region again by matching patterns, which made parsing half the CPU of an SMS send.
        // `is_valid` means "the type is known", so the type answers it too, except for numbers with
        // leading zeros (Italian fixed lines): the crate types those from the number without its
        // zeros, so they still get the crate's own validity check.
        let line_type = LineType::of(&number, metadata);
        let valid = if number.national().zeros() == 0 {
            line_type != LineType::Unknown
        } else {
            phonenumber::is_valid_with(metadata, &number)
        };
        if !valid {
            return Err(Invalid::new("is not a valid phone number for its country"));
        }
        let region = number
            .metadata(metadata)
            .and_then(|metadata| metadata.id().parse().ok())
            .map(Region::from_id);
        Ok(Self {
            e164,
            country_code,
            region,
            line_type,
        })
    }

    pub fn as_e164(&self) -> &str {
        &self.e164
    }

    pub fn country_calling_code(&self) -> u16 {
        self.country_code
    }

    /// The country the number belongs to (`None` for non-geographic numbers such as +800).
    pub fn region(&self) -> Option<Region> {
        self.region
    }

    pub fn line_type(&self) -> LineType {
        self.line_type
    }

    /// `+44•••••••456`: the country calling code and the last three digits (two for short numbers),
    /// every other digit replaced by one mask character.
    pub fn masked(&self) -> String {
        let code_len = self.country_code.to_string().len();
        let national = &self.e164[1 + code_len..];
        let shown = if national.len() >= 7 { 3 } else { 2 };
        let hidden = national.len().saturating_sub(shown);
        let mut out = String::with_capacity(self.e164.len() + hidden * 2);
        out.push_str(&self.e164[..1 + code_len]);
        out.extend(std::iter::repeat_n(MASK, hidden));
        out.push_str(&national[hidden..]);
        out
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// An email address checked by an RFC 5322 parser, with its domain lower-cased.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let input = input.trim();
        if input.len() > 254 {
            return Err(Invalid::new("must be at most 254 characters"));
        }
        let options = email_address::Options::default()
            .without_display_text()
            .with_required_tld()
            .without_domain_literal();
        let parsed = email_address::EmailAddress::parse_with_options(input, options)
            .map_err(|_| Invalid::new("is not an email address, e.g. name@example.com"))?;
        let local = parsed.local_part();
        // Quoted local parts are legal but are not real mailboxes an OTP goes to.
        if local.starts_with('"') {
            return Err(Invalid::new(
                "is not an email address, e.g. name@example.com",
            ));
        }
        Ok(Self(format!(
            "{local}@{}",
            parsed.domain().to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox a message to this address lands in, which limits count under: the address in
    /// lower case, without a `+tag` on the local part, and for Gmail (`gmail.com`, and its old name
    /// `googlemail.com`, folded into it) without the dots Gmail ignores. So `Ana+1@example.com` and
    /// `ana+2@example.com` are one mailbox, and `a.n.a@googlemail.com` is `ana@gmail.com`.
    ///
    /// A local part that is only a tag (`+news@example.com`) is kept whole: with nothing before the
    /// `+` there is no mailbox name to fold it into. Quoted local parts never get here: `parse`
    /// refuses them.
    pub fn mailbox(&self) -> Mailbox {
        let lower = self.0.to_lowercase();
        let (local, domain) = lower.rsplit_once('@').unwrap_or(("", &lower));
        let local = match local.split_once('+') {
            Some((name, _tag)) if !name.is_empty() => name,
            _ => local,
        };
        if matches!(domain, "gmail.com" | "googlemail.com") {
            let name: String = local.chars().filter(|&c| c != '.').collect();
            // A local part of dots alone cannot parse, but keep it rather than leave it empty.
            let name = if name.is_empty() { local } else { &name };
            Mailbox(format!("{name}@gmail.com"))
        } else {
            Mailbox(format!("{local}@{domain}"))
        }
    }

    /// `a•••@example.com`: the first character of the local part (only when it has two or more),
    /// a fixed run of three mask characters that hides the length, and the domain.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", &self.0));
        let mut chars = local.chars();
        let first = match (chars.next(), chars.next()) {
            (Some(first), Some(_)) => Some(first),
            _ => None,
        };
        let mut out = String::with_capacity(domain.len() + 12);
        out.extend(first);
        out.extend(std::iter::repeat_n(MASK, 3));
        out.push('@');
        out.push_str(domain);
        out
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

/// The normalised mailbox of an [`EmailAddress`] ([`EmailAddress::mailbox`]): what per-destination
/// limits count, never where a message goes. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Mailbox(String);

impl Mailbox {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mailbox(…)")
    }
}

/// Where a code goes: the channel and an address valid for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Sms(PhoneNumber),
    Email(EmailAddress),
    /// A call to the number.
    Voice(PhoneNumber),
}

impl Destination {
    /// Parses `to` as the kind of address `channel` needs.
    pub fn parse(channel: Channel, to: &str) -> Result<Self, Invalid> {
        match channel {
            Channel::Sms => PhoneNumber::parse(to).map(Destination::Sms),
            Channel::Email => EmailAddress::parse(to).map(Destination::Email),
            Channel::Voice => PhoneNumber::parse(to).map(Destination::Voice),
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Destination::Sms(_) => Channel::Sms,
            Destination::Email(_) => Channel::Email,
            Destination::Voice(_) => Channel::Voice,
        }
    }

    /// The phone number an SMS or a call goes to.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Destination::Sms(phone) | Destination::Voice(phone) => Some(phone),
            Destination::Email(_) => None,
        }
    }

    /// The address a message is delivered to.
    pub fn address(&self) -> &str {
        match self {
            Destination::Sms(phone) | Destination::Voice(phone) => phone.as_e164(),
            Destination::Email(email) => email.as_str(),
        }
    }

    /// The address itself in one form, for exact matches (test destinations): an email's case
    /// does not make another address, and a number is one destination by SMS or by call.
    pub fn canonical(&self) -> String {
        match self {
            Destination::Sms(phone) | Destination::Voice(phone) => {
                format!("sms:{}", phone.as_e164())
            }
            Destination::Email(email) => format!("email:{}", email.as_str().to_lowercase()),
        }
    }

    /// Who receives: the form under which sends are counted (cooldown, cap, the guess budget, and
    /// the pending code a send replaces). A number, by SMS or by call alike (`sms:` for both, as
    /// stored keys have always said), so "call me instead" replaces the SMS code and shares its
    /// limits; or an email's [mailbox](EmailAddress::mailbox), so that `ana+1@…` and `ana+2@…`
    /// are one destination.
    pub fn recipient(&self) -> String {
        match self {
            Destination::Sms(phone) | Destination::Voice(phone) => {
                format!("sms:{}", phone.as_e164())
            }
            Destination::Email(email) => format!("email:{}", email.mailbox().as_str()),
        }
    }

    pub fn masked(&self) -> String {
        match self {
            Destination::Sms(phone) | Destination::Voice(phone) => phone.masked(),
            Destination::Email(email) => email.masked(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_to_e164() {
        let cases = [
            ("+447911123456", "+447911123456"),
            ("+44 7911 123456", "+447911123456"),
            ("+1 (415) 555-2671", "+14155552671"),
            ("  +33 6 12 34 56 78 ", "+33612345678"),
            ("+49.151.23456789", "+4915123456789"),
        ];
        for (input, expected) in cases {
            let phone = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(phone.as_e164(), expected, "input {input}");
        }
    }

    /// The shortcuts in `parse` must answer exactly as libphonenumber's own (slower) questions do:
    /// valid or not, E.164 (leading zeros kept), region (shared calling codes, non-geographic) and
    /// line type.
    #[test]
    fn parsing_agrees_with_libphonenumbers_own_answers() {
        let inputs = [
            "+447911123456",
            "+390669821234",
            "+39 312 345 6789",
            "+16045550100",
            "+14155552671",
            "+12425551234",
            "+77012345678",
            "+74951234567",
            "+447797123456",
            "+80012345678",
            "+882345678901",
            "+2250712345678",
            "+5491123456789",
            "+61412345678",
            "+449098790000",
            "+4479111234",
            "+12345678901",
            "+4930123456",
            "+999123456789",
        ];
        for input in inputs {
            let library = phonenumber::parse(None, input).ok();
            let ours = PhoneNumber::parse(input);
            let valid = library.as_ref().is_some_and(|n| n.is_valid());
            assert_eq!(ours.is_ok(), valid, "{input}");
            if let (Ok(ours), Some(library)) = (ours, library) {
                let e164 = library.format().mode(phonenumber::Mode::E164).to_string();
                assert_eq!(ours.as_e164(), e164, "{input}");
                assert_eq!(
                    ours.region(),
                    library.country().id().map(Region::from_id),
                    "{input}"
                );
                assert_eq!(
                    ours.line_type(),
                    LineType::of(&library, &phonenumber::metadata::DATABASE),
                    "{input}"
                );
            }
        }
    }

    #[test]
    fn invalid_phone_numbers_are_refused() {
        let cases = [
            ("", "empty"),
            ("07700900123", "no country code"),
            ("+44", "country code only"),
            ("+4479111234564567", "too long for the UK"),
            ("+999123456789", "no such country"),
            ("+1 555 CALL ME", "letters"),
            ("+44 7911 123456 ext. 5", "extension text"),
            ("+44\u{0}7911123456", "control character"),
            ("+1234567890123456789012345678901234", "absurdly long"),
        ];
        for (input, why) in cases {
            assert!(
                PhoneNumber::parse(input).is_err(),
                "accepted {input:?} ({why})"
            );
        }
    }

    /// Found by fuzzing: libphonenumber reads "+55 (90)…" as a premium-rate number, and its E.164
    /// form "+5590…" as a shorter one (the 90 taken for a carrier prefix). Which number is meant is
    /// unclear, so neither is taken; a number whose E.164 form reads back the same still is.
    #[test]
    fn a_number_whose_e164_form_reads_as_another_is_refused() {
        let refused = PhoneNumber::parse("++ )5((5(90 90 0 90 10656").expect_err("ambiguous");
        assert!(refused.0.contains("ambiguous"), "{refused}");
        for written in [
            "+44 (0)7400 123456",
            "+44 7400-123-456",
            "+1 (415) 555-2671",
        ] {
            let number = PhoneNumber::parse(written).expect(written);
            assert_eq!(PhoneNumber::parse(number.as_e164()).as_ref(), Ok(&number));
        }
    }

    /// libphonenumber's metadata calls some German fixed-line numbers of 16 and 17 digits valid, but
    /// E.164, which SNS takes, stops at 15: they are refused with the reason, and 15 digits still pass.
    #[test]
    fn numbers_longer_than_e164_allows_are_refused() {
        for longer in ["+49332955449332955", "+4933295544933295"] {
            let library = phonenumber::parse(None, longer).unwrap();
            assert!(library.is_valid(), "libphonenumber now refuses {longer}");
            let refused = PhoneNumber::parse(longer).expect_err(longer);
            assert!(refused.0.contains("15 digits"), "{longer}: {refused}");
        }
        let longest = PhoneNumber::parse("+493329554493329").unwrap();
        assert_eq!(longest.as_e164(), "+493329554493329");
    }

    #[test]
    fn phone_masking_keeps_country_code_and_last_three_digits() {
        let phone = PhoneNumber::parse("+447911123456").unwrap();
        assert_eq!(phone.masked(), "+44•••••••456");
        let us = PhoneNumber::parse("+14155552671").unwrap();
        assert_eq!(us.masked(), "+1•••••••671");
        assert_eq!(phone.country_calling_code(), 44);
    }

    #[test]
    fn phone_debug_output_is_masked() {
        let phone = PhoneNumber::parse("+447911123456").unwrap();
        assert!(!format!("{phone:?}").contains("7911123"));
    }

    #[test]
    fn emails_are_parsed_with_lowercase_domains() {
        let email = EmailAddress::parse(" Ana.Lima@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ana.Lima@example.com");
        let dest = Destination::Email(email);
        assert_eq!(dest.canonical(), "email:ana.lima@example.com");
    }

    #[test]
    fn a_mailbox_ignores_case_and_plus_tags_and_gmails_dots() {
        let cases = [
            ("ana@example.com", "ana@example.com", "already a mailbox"),
            (
                "Ana.Lima@Example.COM",
                "ana.lima@example.com",
                "case; dots count elsewhere",
            ),
            ("ana+1@example.com", "ana@example.com", "a tag"),
            (
                "ANA+Newsletters@example.com",
                "ana@example.com",
                "a tag in capitals",
            ),
            (
                "ana+a+b@example.com",
                "ana@example.com",
                "everything from the first +",
            ),
            ("ana+@example.com", "ana@example.com", "an empty tag"),
            (
                "+news@example.com",
                "+news@example.com",
                "only a tag: kept whole",
            ),
            ("+@example.com", "+@example.com", "only a +: kept whole"),
            ("a.n.a@gmail.com", "ana@gmail.com", "Gmail ignores dots"),
            (
                "A.Na+x@GMail.com",
                "ana@gmail.com",
                "Gmail: dots, tag and case",
            ),
            (
                "a.n.a@googlemail.com",
                "ana@gmail.com",
                "googlemail.com is gmail.com",
            ),
            (
                "ana@mail.gmail.com",
                "ana@mail.gmail.com",
                "only gmail.com itself",
            ),
            ("a.na@gmail.co.uk", "a.na@gmail.co.uk", "not Gmail's domain"),
            (
                "+x.y@gmail.com",
                "+xy@gmail.com",
                "only a tag, at Gmail: kept, dots gone",
            ),
            (
                "Ana.É@example.com",
                "ana.é@example.com",
                "non-ASCII lower-cased too",
            ),
        ];
        for (input, expected, why) in cases {
            let email = EmailAddress::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(email.mailbox().as_str(), expected, "{input} ({why})");
        }
        // The address itself is untouched: the message goes where it was sent.
        let typed = EmailAddress::parse("Ana+1@GoogleMail.com").unwrap();
        assert_eq!(typed.as_str(), "Ana+1@googlemail.com");
        assert_eq!(typed.mailbox().as_str(), "ana@gmail.com");
        assert!(!format!("{:?}", typed.mailbox()).contains("ana"));
    }

    #[test]
    fn quoted_local_parts_never_reach_a_mailbox() {
        // Refused at parse: `"ana+1"@example.com` would otherwise raise the question of a quoted `+`.
        for input in ["\"ana+1\"@example.com", "\"a.n.a\"@gmail.com"] {
            assert!(EmailAddress::parse(input).is_err(), "{input}");
        }
    }

    #[test]
    fn sends_are_counted_per_mailbox_but_test_destinations_match_exactly() {
        let email = |to| Destination::parse(Channel::Email, to).unwrap();
        assert_eq!(
            email("ana+1@example.com").recipient(),
            "email:ana@example.com"
        );
        assert_eq!(
            email("ana+1@example.com").recipient(),
            email("Ana+2@example.com").recipient()
        );
        assert_ne!(
            email("ana+1@example.com").canonical(),
            email("ana+2@example.com").canonical()
        );
        assert_eq!(
            email("ana+1@example.com").canonical(),
            "email:ana+1@example.com"
        );
        let sms = Destination::parse(Channel::Sms, "+44 7911 123456").unwrap();
        assert_eq!(sms.recipient(), sms.canonical());
        assert_eq!(sms.recipient(), "sms:+447911123456");
    }

    #[test]
    fn invalid_emails_are_refused() {
        let cases = [
            ("", "empty"),
            ("ana", "no at sign"),
            ("ana@", "no domain"),
            ("@example.com", "no local part"),
            ("ana@localhost", "no top-level domain"),
            ("Ana <ana@example.com>", "display name"),
            ("ana@@example.com", "two at signs"),
            ("\"ana lima\"@example.com", "quoted local part"),
            ("ana@[192.0.2.1]", "IP literal"),
        ];
        for (input, why) in cases {
            assert!(
                EmailAddress::parse(input).is_err(),
                "accepted {input:?} ({why})"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn email_masking_shows_first_character_and_domain_only() {
        let cases = [
            ("ana@example.com", "a•••@example.com"),
            ("a@example.com", "•••@example.com"),
            ("verylongname@example.com", "v•••@example.com"),
        ];
        for (input, expected) in cases {
            assert_eq!(EmailAddress::parse(input).unwrap().masked(), expected);
        }
    }

    #[test]
    fn destination_requires_the_address_kind_of_its_channel() {
        assert!(Destination::parse(Channel::Sms, "ana@example.com").is_err());
        assert!(Destination::parse(Channel::Email, "+447911123456").is_err());
        let sms = Destination::parse(Channel::Sms, "+447911123456").unwrap();
        assert_eq!(sms.channel(), Channel::Sms);
        assert_eq!(sms.address(), "+447911123456");
        let call = Destination::parse(Channel::Voice, "+44 7911 123456").unwrap();
        assert_eq!(call.channel(), Channel::Voice);
        assert!(Destination::parse(Channel::Voice, "ana@example.com").is_err());
    }

    /// A call and an SMS to one number are one recipient: a call replaces the SMS code, and the
    /// number's cooldown, cap and guess budget count both.
    #[test]
    fn a_number_is_one_recipient_by_sms_or_by_call() {
        let sms = Destination::parse(Channel::Sms, "+447911123456").unwrap();
        let call = Destination::parse(Channel::Voice, "+447911123456").unwrap();
        assert_eq!(sms.recipient(), call.recipient());
        assert_eq!(sms.canonical(), call.canonical());
        assert_eq!(call.masked(), "+44•••••••456");
    }

    #[test]
    fn calls_reach_fixed_lines_but_never_premium_rate_lines() {
        assert!(LineType::FixedLine.takes_calls());
        assert!(!LineType::FixedLine.takes_sms());
        for line in [
            LineType::Mobile,
            LineType::FixedLineOrMobile,
            LineType::Unknown,
        ] {
            assert!(line.takes_calls() && line.takes_sms(), "{line:?}");
        }
        for line in [
            LineType::PremiumRate,
            LineType::SharedCost,
            LineType::TollFree,
            LineType::Uan,
            LineType::Service,
            LineType::Voip,
            LineType::PersonalNumber,
            LineType::Pager,
            LineType::Voicemail,
        ] {
            assert!(!line.takes_calls(), "{line:?}");
        }
    }
}

//! Message rendering (SMS and email, built-in texts in every locale, callers' templates and
//! profiles' transaction templates) from any template, brand, locale, purpose, expiry, WebOTP
//! binding and transaction that pass their own parsers (a value that does not is replaced by its
//! default, so that nearly every input renders): never a panic, the code is always in the message,
//! and a transaction template's message names the transaction's amount, currency and payee.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_shared::adapters::SeededRandomness;
use otp_shared::domain::{
    Alphabet, AndroidAppHash, Brand, Channel, Code, CodeLength, CodeSpec, Locale, Purpose,
    SmsBinding, Transaction, Ttl, WebOtpOrigin,
};
use otp_shared::messages::{CustomTemplate, MessageInput, render, sms_size};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    template: Option<&'a str>,
    brand: Option<&'a str>,
    locale: &'a str,
    purpose: &'a str,
    ttl_seconds: u16,
    alphabet: u8,
    length: u8,
    seed: u64,
    origin: Option<&'a str>,
    app_hash: Option<&'a str>,
    /// Read `template` as a profile's transaction template.
    transaction_template: bool,
    /// Amount, currency and payee.
    transaction: Option<(&'a str, &'a str, &'a str)>,
}

fuzz_target!(|input: Input<'_>| {
    // Sizing takes any text, not only rendered ones.
    sms_size(input.template.unwrap_or_default());
    let template = input.template.and_then(|t| {
        if input.transaction_template {
            CustomTemplate::parse_transaction(t).ok()
        } else {
            CustomTemplate::parse(t).ok()
        }
    });
    let transaction = input
        .transaction
        .and_then(|(amount, currency, payee)| Transaction::parse(amount, currency, payee).ok());
    let brand = input.brand.and_then(|b| Brand::parse(b).ok());
    let locale = Locale::parse(input.locale).unwrap_or_default();
    let purpose = Purpose::parse(input.purpose).unwrap_or_default();
    let ttl = Ttl::parse(input.ttl_seconds.into()).unwrap_or_default();
    let length = CodeLength::parse(input.length.into()).unwrap_or_default();
    let alphabet = match input.alphabet % 3 {
        0 => Alphabet::Digits,
        1 => Alphabet::Letters,
        _ => Alphabet::Alphanumeric,
    };
    let code = Code::generate(
        CodeSpec { alphabet, length },
        &SeededRandomness::new(input.seed),
    );
    let binding = SmsBinding {
        origin: input.origin.and_then(|o| WebOtpOrigin::parse(o).ok()),
        app_hash: input.app_hash.and_then(|h| AndroidAppHash::parse(h).ok()),
    };
    let message = MessageInput {
        code: &code,
        brand: brand.as_ref(),
        ttl,
        purpose: &purpose,
        locale: &locale,
        template: template.as_ref(),
        sms_binding: Some(&binding),
        transaction: transaction.as_ref(),
        voice_repeats: (input.seed % 5) as u8,
    };
    // A transaction template names the transaction in the text, whatever else it says.
    let names_the_transaction = |text: &str| match (&transaction, input.transaction_template) {
        (Some(t), true) if template.is_some() => {
            text.contains(t.amount()) && text.contains(t.currency()) && text.contains(t.payee())
        }
        _ => true,
    };
    let code = code.expose();

    let sms = render(Channel::Sms, message);
    assert!(sms.text.contains(code), "the SMS lacks the code");
    assert!(
        names_the_transaction(&sms.text),
        "the SMS lacks the transaction"
    );
    assert!(sms.subject.is_none() && sms.html.is_none());
    if let Some(origin) = &binding.origin {
        let last_line = sms.text.lines().last().unwrap_or_default();
        assert_eq!(last_line, format!("@{} #{code}", origin.as_str()));
    }
    if let Some(hash) = &binding.app_hash {
        assert!(
            sms.text.contains(hash.as_str()),
            "the SMS lacks the app hash"
        );
    }

    let email = render(Channel::Email, message);
    assert!(email.text.contains(code), "the email text lacks the code");
    assert!(
        names_the_transaction(&email.text),
        "the email text lacks the transaction"
    );
    let html = email.html.expect("an email has HTML");
    assert!(html.contains(code), "the email HTML lacks the code");
    let subject = email.subject.expect("an email has a subject");
    assert!(!subject.contains('\n'), "a subject is one line");

    // A call says the code's characters, each in its own `say-as`, 1 to 3 times, and nothing a
    // brand or template brings can open or close an element: every `<` is one of ours.
    let call = render(Channel::Voice, message)
        .call
        .expect("a call has SSML");
    let repeats = usize::from(
        message
            .voice_repeats
            .clamp(1, otp_shared::messages::MAX_REPEATS),
    );
    let said: String = call
        .ssml
        .split("<say-as interpret-as=\"characters\">")
        .skip(1)
        .map(|rest| rest.split("</say-as>").next().unwrap_or_default())
        .collect();
    assert_eq!(said, code.repeat(repeats), "the call does not say the code");
    assert!(call.ssml.starts_with("<speak><lang xml:lang=\""));
    assert!(call.ssml.ends_with("</lang></speak>"));
    let elements = call.ssml.matches('<').count();
    let ours = 4 + call.ssml.matches("<break ").count() + 2 * call.ssml.matches("<say-as ").count();
    assert_eq!(
        elements, ours,
        "text in the SSML opened an element: {}",
        call.ssml
    );
    assert!(call.ssml.chars().count() <= otp_shared::messages::MAX_SSML_CHARS);
    assert!(call.billed_minutes() >= 1);
});

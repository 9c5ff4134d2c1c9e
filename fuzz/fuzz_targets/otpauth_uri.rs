//! The Key URI an authenticator app scans, from any issuer, account and parameters that pass their
//! own parsers (a value that does not is replaced by a valid one, so that nearly every input makes
//! a URI): never a panic, and two independent readers (the url crate, and totp-rs's own
//! `from_url`, as an app would) get back the same issuer, account, secret and parameters. The QR
//! code of every long URI can be made.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use otp_shared::crypto::TotpSecret;
use otp_shared::totp::{Authenticator, TotpLabel, TotpParams, qr_images};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    secret: [u8; 20],
    algorithm: Option<&'a str>,
    digits: Option<u64>,
    period: Option<u64>,
    issuer: &'a str,
    account: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    let issuer = TotpLabel::parse(input.issuer).unwrap_or_else(|_| label("Acme"));
    let account = TotpLabel::parse(input.account).unwrap_or_else(|_| label("ana@example.com"));
    let params = TotpParams::parse(input.algorithm, input.digits, input.period)
        .or_else(|_| TotpParams::parse(input.algorithm, None, input.period))
        .or_else(|_| TotpParams::parse(None, None, input.period))
        .unwrap_or_default();
    let secret = TotpSecret::from_bytes(input.secret);
    let Ok(authenticator) = Authenticator::new(&secret, params, &issuer, &account) else {
        return;
    };
    let uri = authenticator.otpauth_uri();

    let parsed = url::Url::parse(&uri).expect("the Key URI is a URL");
    assert_eq!(parsed.scheme(), "otpauth");
    assert_eq!(parsed.host_str(), Some("totp"));
    let label = percent_encoding::percent_decode_str(parsed.path().trim_start_matches('/'))
        .decode_utf8()
        .expect("the label is UTF-8");
    assert_eq!(label, format!("{}:{}", issuer.as_str(), account.as_str()));
    let query = |name: &str| {
        let values: Vec<String> = parsed
            .query_pairs()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .collect();
        assert_eq!(values.len(), 1, "{name} appears once");
        values.into_iter().next().unwrap()
    };
    assert_eq!(query("secret"), *secret.base32());
    assert_eq!(query("issuer"), issuer.as_str());
    assert_eq!(query("algorithm"), params.algorithm.as_str());
    assert_eq!(query("digits"), params.digits.to_string());
    assert_eq!(query("period"), params.period.to_string());

    let app = totp_rs::Totp::from_url(uri.as_str()).expect("totp-rs reads its own Key URI");
    assert_eq!(app.issuer(), Some(issuer.as_str()));
    assert_eq!(app.account_name(), account.as_str());
    assert_eq!(app.secret().as_bytes(), &input.secret[..]);
    assert_eq!(app.algorithm().as_str(), params.algorithm.as_str());
    assert_eq!(app.digits(), params.digits);
    assert_eq!(app.step(), params.period);

    // Making a QR code costs milliseconds, most of a run; below level M's 2,331 bytes it cannot fail.
    if uri.len() > 2000 {
        qr_images(&uri);
    }
});

fn label(text: &str) -> TotpLabel {
    TotpLabel::parse(text).expect("a valid label")
}

//! Authenticator-app (TOTP, RFC 6238) building blocks: the secret, its parameters, the matched time
//! step for replay protection, the Key URI for apps, its QR code, the secret sealed at rest, and
//! recovery codes. No I/O: the enroll and verify use cases build on these.
//!
//! Codes are computed and checked by totp-rs; this module only chooses its parameters, keeps the
//! matched step (the library returns it), and adds what the library leaves to its caller.

use std::io::Cursor;

use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

use crate::crypto::{Randomness, TotpSecret};
use crate::domain::{Alphabet, Code, CodeLength, CodeSpec, Invalid};

/// The HMAC behind the codes. SHA1 is what Google Authenticator and most apps support.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TotpAlgorithm {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}

impl TotpAlgorithm {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        match input.trim().to_ascii_uppercase().as_str() {
            "SHA1" => Ok(Self::Sha1),
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(Invalid::new("must be SHA1, SHA256 or SHA512")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    fn library(self) -> Algorithm {
        match self {
            Self::Sha1 => Algorithm::SHA1,
            Self::Sha256 => Algorithm::SHA256,
            Self::Sha512 => Algorithm::SHA512,
        }
    }
}

/// How codes are made: algorithm, 6 or 8 digits, a 30 or 60 second step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpParams {
    pub algorithm: TotpAlgorithm,
    pub digits: u8,
    pub period: u64,
}

impl Default for TotpParams {
    fn default() -> Self {
        Self {
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            period: 30,
        }
    }
}

impl TotpParams {
    pub fn parse(
        algorithm: Option<&str>,
        digits: Option<u64>,
        period: Option<u64>,
    ) -> Result<Self, (&'static str, Invalid)> {
        let defaults = Self::default();
        let algorithm = algorithm
            .map(TotpAlgorithm::parse)
            .transpose()
            .map_err(|e| ("algorithm", e))?
            .unwrap_or(defaults.algorithm);
        let digits = match digits {
            None => defaults.digits,
            Some(6) => 6,
            Some(8) => 8,
            Some(_) => return Err(("digits", Invalid::new("must be 6 or 8"))),
        };
        let period = match period {
            None => defaults.period,
            Some(p @ (30 | 60)) => p,
            Some(_) => return Err(("period", Invalid::new("must be 30 or 60 seconds"))),
        };
        Ok(Self {
            algorithm,
            digits,
            period,
        })
    }
}

/// The label an authenticator app shows: an issuer (your service) or an account (the user's name in
/// it). The Key URI format separates them with a colon, so neither may contain one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpLabel(String);

impl TotpLabel {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let label = input.trim();
        if label.is_empty() || label.chars().count() > 64 {
            return Err(Invalid::new("must be 1 to 64 characters"));
        }
        if label.contains(':') || label.chars().any(char::is_control) {
            return Err(Invalid::new(
                "must not contain a colon or control characters",
            ));
        }
        Ok(Self(label.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn builder(secret: &TotpSecret, params: TotpParams) -> Builder {
    Builder::new()
        .with_algorithm(params.algorithm.library())
        .with_digits(params.digits)
        .with_step_duration(params.period)
        .with_skew(SKEW)
        .with_secret(secret.expose().to_vec())
}

/// One user's authenticator: secret, parameters and the labels the app shows.
pub struct Authenticator {
    totp: Totp,
    params: TotpParams,
}

/// Steps either side of now a code is accepted for: RFC 6238's recommended allowance for clock drift
/// and the time it takes to type.
const SKEW: u16 = 1;

impl Authenticator {
    /// The authenticator an app builds from the Key URI: labels included, for enrolment.
    pub fn new(
        secret: &TotpSecret,
        params: TotpParams,
        issuer: &TotpLabel,
        account: &TotpLabel,
    ) -> Result<Self, Invalid> {
        Self::build(
            builder(secret, params)
                .with_issuer(Some(issuer.as_str()))
                .with_account_name(account.as_str()),
            params,
        )
    }

    /// The authenticator verification needs: the labels only matter to the app.
    pub fn for_checking(secret: &TotpSecret, params: TotpParams) -> Self {
        Self::build(builder(secret, params), params)
            .expect("stored parameters were checked when the user enrolled")
    }

    fn build(builder: Builder, params: TotpParams) -> Result<Self, Invalid> {
        let totp = builder
            .build()
            .map_err(|e| Invalid(format!("cannot make an authenticator: {e}")))?;
        Ok(Self { totp, params })
    }

    /// The time step (unix time / period) whose code `code` is, within one step of `unix_time`.
    /// Replay protection keeps the last step accepted and refuses any step not after it.
    pub fn matching_step(&self, code: &str, unix_time: u64) -> Option<u64> {
        if code.len() != usize::from(self.params.digits)
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        self.totp.check(code, unix_time)
    }

    /// The code for `unix_time`: what the app would show (tests).
    #[cfg(test)]
    pub fn code_at(&self, unix_time: u64) -> String {
        self.totp.generate(unix_time).to_string()
    }

    /// The Key URI (`otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=…&digits=…&period=…`),
    /// percent-encoded by totp-rs. Algorithm, digits and period are always written, even at their
    /// defaults, so no app has to guess.
    pub fn otpauth_uri(&self) -> Zeroizing<String> {
        let mut uri = Zeroizing::new(
            self.totp
                .to_url()
                .expect("issuer and account were checked when the authenticator was made"),
        );
        for (name, value) in [
            ("algorithm", self.params.algorithm.as_str().to_owned()),
            ("digits", self.params.digits.to_string()),
            ("period", self.params.period.to_string()),
        ] {
            let present = uri
                .split(['?', '&'])
                .skip(1)
                .any(|pair| pair.starts_with(&format!("{name}=")));
            if !present {
                uri.push_str(&format!("&{name}={value}"));
            }
        }
        uri
    }
}

/// A QR code of `text`, medium error correction (what authenticator apps scan well from a screen),
/// or low where the text is too long for that: labels of 64 characters outside the Basic
/// Multilingual Plane make a Key URI of up to about 2.4 KB once percent-encoded, past level M's
/// 2,331 bytes but within level L's 2,953.
fn qr_code(text: &str) -> qrcode::QrCode {
    let at = |level| qrcode::QrCode::with_error_correction_level(text.as_bytes(), level);
    at(qrcode::EcLevel::M)
        .or_else(|_| at(qrcode::EcLevel::L))
        .expect("a Key URI from valid labels fits in a QR code at level L")
}

/// A Key URI's QR code, drawn for the enrolment reply as SVG and as a PNG `data:` URL.
pub struct QrImages {
    pub svg: String,
    pub png_data_url: String,
}

/// The QR code of `text`, made once (choosing its mask is most of the cost) and drawn twice.
pub fn qr_images(text: &str) -> QrImages {
    let code = qr_code(text);
    QrImages {
        svg: qr_svg(&code),
        png_data_url: qr_png_data_url(&code),
    }
}

/// An SVG document of `code`.
fn qr_svg(code: &qrcode::QrCode) -> String {
    code.render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build()
}

/// A `data:image/png;base64,` URL of `code`.
fn qr_png_data_url(code: &qrcode::QrCode) -> String {
    let image = code
        .render::<image::Luma<u8>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let mut png = Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encoding a PNG in memory cannot fail");
    format!(
        "data:image/png;base64,{}",
        data_encoding::BASE64.encode(png.get_ref())
    )
}

/// How many recovery codes an enrolment gets.
pub const RECOVERY_CODES: usize = 10;

/// Recovery codes for a user who has lost their authenticator: 10 symbols each from the look-alike
/// free alphanumeric alphabet (~50 bits), shown once as `XXXXX-XXXXX`, stored only as keyed hashes.
pub fn generate_recovery_codes(randomness: &dyn Randomness) -> Vec<Zeroizing<String>> {
    let spec = CodeSpec {
        alphabet: Alphabet::Alphanumeric,
        length: CodeLength::parse(10).expect("10 is a valid code length"),
    };
    (0..RECOVERY_CODES)
        .map(|_| {
            let code = Code::generate(spec, randomness);
            let (head, tail) = code.expose().split_at(5);
            Zeroizing::new(format!("{head}-{tail}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::SeededRandomness;

    fn label(s: &str) -> TotpLabel {
        TotpLabel::parse(s).unwrap()
    }

    /// An authenticator with a seeded secret and the default parameters.
    fn seeded(seed: u64, issuer: &str, account: &str) -> (TotpSecret, Authenticator) {
        let secret = TotpSecret::generate(&SeededRandomness::new(seed));
        let auth = Authenticator::new(
            &secret,
            TotpParams::default(),
            &label(issuer),
            &label(account),
        )
        .unwrap();
        (secret, auth)
    }

    fn authenticator(secret: &[u8], algorithm: TotpAlgorithm) -> Authenticator {
        let totp = Builder::new()
            .with_algorithm(algorithm.library())
            .with_digits(8)
            .with_step_duration(30)
            .with_skew(SKEW)
            .with_secret(secret.to_vec())
            .with_issuer(Some("RFC"))
            .with_account_name("test")
            .build()
            .unwrap();
        Authenticator {
            totp,
            params: TotpParams {
                algorithm,
                digits: 8,
                period: 30,
            },
        }
    }

    /// RFC 6238 Appendix B: the seeds are the ASCII digits repeated to the hash's block size.
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let sha1 = b"12345678901234567890".as_slice();
        let sha256 = b"12345678901234567890123456789012".as_slice();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".as_slice();
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, want_sha1, want_sha256, want_sha512) in vectors {
            for (seed, algorithm, want) in [
                (sha1, TotpAlgorithm::Sha1, want_sha1),
                (sha256, TotpAlgorithm::Sha256, want_sha256),
                (sha512, TotpAlgorithm::Sha512, want_sha512),
            ] {
                let auth = authenticator(seed, algorithm);
                assert_eq!(auth.code_at(time), want, "{algorithm:?} at {time}");
                assert_eq!(
                    auth.matching_step(want, time),
                    Some(time / 30),
                    "{algorithm:?} at {time}"
                );
            }
        }
    }

    #[test]
    fn a_code_matches_its_own_step_and_one_either_side_only() {
        let (_, auth) = seeded(1, "Acme", "ana");
        let t = 1_800_000_015;
        let code = auth.code_at(t);
        assert_eq!(auth.matching_step(&code, t), Some(t / 30));
        assert_eq!(
            auth.matching_step(&code, t + 30),
            Some(t / 30),
            "one step late"
        );
        assert_eq!(
            auth.matching_step(&code, t - 30),
            Some(t / 30),
            "one step early"
        );
        assert_eq!(auth.matching_step(&code, t + 60), None, "two steps late");
        assert_eq!(auth.matching_step(&code, t - 60), None, "two steps early");
        assert_eq!(auth.matching_step(" 12345", t), None, "malformed");
        assert_eq!(auth.matching_step("1234567", t), None, "wrong length");
    }

    #[test]
    fn the_key_uri_round_trips_with_spaces_and_non_ascii_labels() {
        let secret = TotpSecret::generate(&SeededRandomness::new(2));
        let params = TotpParams {
            algorithm: TotpAlgorithm::Sha256,
            digits: 8,
            period: 60,
        };
        let auth = Authenticator::new(
            &secret,
            params,
            &label("Açme Bank & Co"),
            &label("zoë müller@example.com"),
        )
        .unwrap();
        let uri = auth.otpauth_uri();
        assert!(
            uri.starts_with("otpauth://totp/A%C3%A7me%20Bank%20%26%20Co:"),
            "{}",
            *uri
        );
        assert!(!uri.contains(' '), "{}", *uri);
        let parsed = Totp::from_url(uri.as_str()).unwrap();
        assert_eq!(parsed.issuer(), Some("Açme Bank & Co"));
        assert_eq!(parsed.account_name(), "zoë müller@example.com");
        assert_eq!(parsed.secret().as_ref(), secret.expose());
        assert_eq!(parsed.digits(), 8);
        assert_eq!(parsed.step(), 60);
        assert_eq!(parsed.algorithm(), Algorithm::SHA256);

        // Defaults are written out too.
        let auth = Authenticator::new(
            &secret,
            TotpParams::default(),
            &label("Acme"),
            &label("ana"),
        )
        .unwrap();
        let uri = auth.otpauth_uri();
        for part in [
            format!("secret={}", *secret.base32()),
            "issuer=Acme".into(),
            "algorithm=SHA1".into(),
            "digits=6".into(),
            "period=30".into(),
        ] {
            assert!(uri.contains(&part), "{} lacks {part}", *uri);
        }
        assert!(uri.starts_with("otpauth://totp/Acme:ana?"), "{}", *uri);
    }

    #[test]
    fn labels_refuse_colons_control_characters_and_excess() {
        assert!(TotpLabel::parse("Acme:Bank").is_err());
        assert!(TotpLabel::parse("line\nbreak").is_err());
        assert!(TotpLabel::parse("   ").is_err());
        assert!(TotpLabel::parse(&"é".repeat(65)).is_err());
        assert_eq!(TotpLabel::parse(" Acme ").unwrap().as_str(), "Acme");
    }

    #[test]
    fn parameters_take_only_what_apps_support() {
        assert_eq!(
            TotpParams::parse(None, None, None).unwrap(),
            TotpParams::default()
        );
        let p = TotpParams::parse(Some("sha512"), Some(8), Some(60)).unwrap();
        assert_eq!(p.algorithm, TotpAlgorithm::Sha512);
        assert_eq!((p.digits, p.period), (8, 60));
        assert_eq!(
            TotpParams::parse(Some("MD5"), None, None).unwrap_err().0,
            "algorithm"
        );
        assert_eq!(
            TotpParams::parse(None, Some(7), None).unwrap_err().0,
            "digits"
        );
        assert_eq!(
            TotpParams::parse(None, None, Some(45)).unwrap_err().0,
            "period"
        );
    }

    /// What a scanner reads from the QR code in a PNG `data:` URL.
    fn read_qr_png(png_data_url: &str) -> String {
        let png = data_encoding::BASE64
            .decode(
                png_data_url
                    .strip_prefix("data:image/png;base64,")
                    .unwrap()
                    .as_bytes(),
            )
            .unwrap();
        let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap()
            .to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_qr_codes_decode_back_to_the_uri() {
        let (secret, auth) = seeded(3, "Açme", "zoë");
        let uri = auth.otpauth_uri();
        let QrImages { svg, png_data_url } = qr_images(&uri);

        assert_eq!(read_qr_png(&png_data_url), *uri);

        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{svg:.80}"
        );
        assert!(
            !svg.contains(&*secret.base32()),
            "the SVG draws the URI, it does not quote it"
        );
    }

    /// Found while writing the `otpauth_uri` fuzz target: labels of 64 four-byte characters make a
    /// Key URI of about 2.4 KB once percent-encoded, more than a QR code holds at error-correction
    /// level M (2,331 bytes), and enrolment panicked.
    #[test]
    fn the_longest_labels_still_make_a_qr_code_that_decodes_back() {
        let longest = "😀".repeat(64);
        let (_, auth) = seeded(6, &longest, &longest);
        let uri = auth.otpauth_uri();
        assert!(uri.len() > 2331, "{} bytes", uri.len());

        let QrImages { svg, png_data_url } = qr_images(&uri);
        assert!(svg.contains("<svg"), "{svg:.80}");
        assert_eq!(read_qr_png(&png_data_url), *uri);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_grouped_codes_from_the_unambiguous_alphabet() {
        let codes = generate_recovery_codes(&SeededRandomness::new(5));
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<&str> = codes.iter().map(|c| c.as_str()).collect();
        assert_eq!(distinct.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 11, "{}", code.as_str());
            assert_eq!(&code[5..6], "-");
            assert!(
                code.chars()
                    .filter(|c| *c != '-')
                    .all(|c| Alphabet::Alphanumeric.symbols().contains(&(c as u8))),
                "{}",
                code.as_str()
            );
        }
    }
}

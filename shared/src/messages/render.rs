//! Rendering a code into an SMS, an email or a call: built-in texts per language with fallback, or
//! the caller's own template (SMS and email).

use std::fmt::Write as _;

use super::catalog::{Texts, texts_for};
use super::input::MessageInput;
use super::sms::sms_size;
use super::template::{Piece, pieces};
use super::voice::{VoiceMessage, render_voice};

use crate::domain::{Brand, Channel, Transaction};

/// A rendered message. Its `Debug` hides the bodies: they carry the code.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMessage {
    pub subject: Option<String>,
    /// An SMS's or email's text; a call's words as plain text (what otp-local's outbox shows).
    pub text: String,
    pub html: Option<String>,
    /// A call's SSML and voice.
    pub call: Option<VoiceMessage>,
}

impl std::fmt::Debug for RenderedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedMessage").finish_non_exhaustive()
    }
}

pub fn render(channel: Channel, input: MessageInput<'_>) -> RenderedMessage {
    let rendered = render_quietly(channel, input);
    if channel == Channel::Sms {
        let size = sms_size(&rendered.text);
        if !size.fits() {
            tracing::warn!(
                segments = size.segments,
                encoding = ?size.encoding,
                custom_template = input.template.is_some(),
                "SMS text needs more than one segment"
            );
        }
    }
    rendered
}

/// [`render`] without the warning about a long SMS: for checking templates before any is sent.
pub fn render_quietly(channel: Channel, input: MessageInput<'_>) -> RenderedMessage {
    let texts = texts_for(input.locale);
    let pick = |branded: &'static str, plain: &'static str| {
        if input.brand.is_some() {
            branded
        } else {
            plain
        }
    };
    match channel {
        Channel::Sms => {
            let text = match input.template {
                Some(template) => fill(&template.0, &input),
                None => fill(pick(texts.sms_branded, texts.sms), &input),
            };
            let text = bind_sms(text, &input);
            RenderedMessage {
                subject: None,
                text,
                html: None,
                call: None,
            }
        }
        Channel::Email => {
            let subject = fill(pick(texts.subject_branded, texts.subject), &input);
            let (text, html_body) = match input.template {
                Some(template) => {
                    let text = fill(&template.0, &input);
                    let html = format!("<p>{}</p>", escape_html(&text).replace('\n', "<br>\n"));
                    (text, html)
                }
                None => built_in_email(texts, &input, pick(texts.intro_branded, texts.intro)),
            };
            let html = format!(
                "<!doctype html>\n<html lang=\"{lang}\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
                 <body style=\"font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2328;line-height:1.5\">\n\
                 {html_body}\n</body>\n</html>\n",
                lang = texts.language,
                title = escape_html(&subject),
            );
            RenderedMessage {
                subject: Some(subject),
                text,
                html: Some(html),
                call: None,
            }
        }
        // A call is always the built-in words: a template written to be read is not one to hear.
        Channel::Voice => {
            let call = render_voice(&input, input.voice_repeats);
            RenderedMessage {
                subject: None,
                text: call.spoken.clone(),
                html: None,
                call: Some(call),
            }
        }
    }
}

fn built_in_email(texts: &Texts, input: &MessageInput<'_>, intro: &str) -> (String, String) {
    let intro = fill(intro, input);
    let expiry = fill(texts.expiry, input);
    let code = input.code.expose();
    let text = format!("{intro}\n\n{code}\n\n{expiry}\n{}\n", texts.ignore);
    let html = format!(
        "<p>{}</p>\n<p style=\"font-size:28px;font-weight:700;letter-spacing:6px;font-family:ui-monospace,monospace\">{}</p>\n<p>{}<br>\n{}</p>",
        escape_html(&intro),
        escape_html(code),
        escape_html(&expiry),
        escape_html(texts.ignore),
    );
    (text, html)
}

/// Ends an SMS, after a blank line, with what binds it to a site or app: the app hash (Android's
/// SMS Retriever looks for it anywhere in the text), then `@origin #code`, which WebOTP reads only
/// from the last line.
fn bind_sms(mut text: String, input: &MessageInput<'_>) -> String {
    let Some(binding) = input.sms_binding.filter(|binding| !binding.is_empty()) else {
        return text;
    };
    // One blank line, however the template ended.
    text.truncate(text.trim_end().len());
    text.push('\n');
    if let Some(hash) = &binding.app_hash {
        text.push('\n');
        text.push_str(hash.as_str());
    }
    if let Some(origin) = &binding.origin {
        let _ = write!(text, "\n@{} #{}", origin.as_str(), input.code.expose());
    }
    text
}

/// Substitutes the placeholders of an already validated template.
fn fill(template: &str, input: &MessageInput<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 48);
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Placeholder("code") => out.push_str(input.code.expose()),
            Piece::Placeholder("brand") => out.push_str(input.brand.map_or("", Brand::as_str)),
            Piece::Placeholder("minutes") => {
                let _ = write!(out, "{}", input.ttl.minutes());
            }
            Piece::Placeholder("purpose") => out.push_str(input.purpose.as_str()),
            Piece::Placeholder("amount") => {
                out.push_str(input.transaction.map_or("", Transaction::amount));
            }
            Piece::Placeholder("currency") => {
                out.push_str(input.transaction.map_or("", Transaction::currency));
            }
            Piece::Placeholder("payee") => {
                out.push_str(input.transaction.map_or("", Transaction::payee));
            }
            // Templates are validated before they get here; built-in ones by the tests.
            Piece::Placeholder(_) | Piece::Unclosed => {}
        }
    }
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::SeededRandomness;
    use crate::domain::{
        Alphabet, AndroidAppHash, Code, CodeLength, CodeSpec, Locale, Purpose, SmsBinding, Ttl,
        WebOtpOrigin,
    };
    use crate::messages::SmsEncoding;
    use crate::messages::{CATALOG, CustomTemplate};

    fn code(length: u64) -> Code {
        let spec = CodeSpec {
            alphabet: Alphabet::Alphanumeric,
            length: CodeLength::parse(length).unwrap(),
        };
        Code::generate(spec, &SeededRandomness::new(length))
    }

    fn input<'a>(
        code: &'a Code,
        brand: Option<&'a Brand>,
        locale: &'a Locale,
        template: Option<&'a CustomTemplate>,
    ) -> MessageInput<'a> {
        static PURPOSE: std::sync::LazyLock<Purpose> =
            std::sync::LazyLock::new(|| Purpose::parse("login").unwrap());
        MessageInput {
            code,
            brand,
            ttl: Ttl::parse(300).unwrap(),
            purpose: &PURPOSE,
            locale,
            template,
            sms_binding: None,
            transaction: None,
            voice_repeats: crate::messages::DEFAULT_REPEATS,
        }
    }

    #[test]
    fn locales_fall_back_to_their_language_then_english() {
        let cases = [
            ("fr-CA", "fr"),
            ("fr", "fr"),
            ("pt-BR", "pt"),
            ("es-419", "es"),
            ("de-AT", "de"),
            ("en-GB", "en"),
            ("zh-Hant-TW", "en"),
            ("ja", "en"),
        ];
        for (tag, language) in cases {
            assert_eq!(
                texts_for(&Locale::parse(tag).unwrap()).language,
                language,
                "{tag}"
            );
        }
    }

    #[test]
    fn every_language_has_every_text_with_the_placeholders_it_needs() {
        let languages: Vec<_> = CATALOG.iter().map(|t| t.language).collect();
        assert_eq!(languages, ["en", "es", "fr", "de", "pt"]);
        for t in CATALOG {
            for (name, text) in [("sms_branded", t.sms_branded), ("sms", t.sms)] {
                assert!(
                    text.contains("{code}") && text.contains("{minutes}"),
                    "{} {name}",
                    t.language
                );
            }
            for branded in [t.sms_branded, t.subject_branded, t.intro_branded] {
                assert!(branded.contains("{brand}"), "{}: {branded}", t.language);
            }
            for plain in [t.sms, t.subject, t.intro, t.expiry, t.ignore] {
                assert!(!plain.contains("{brand}"), "{}: {plain}", t.language);
            }
            // Built-in texts must themselves be valid templates.
            for text in [t.sms_branded, t.sms] {
                CustomTemplate::parse(text).unwrap();
            }
        }
    }

    #[test]
    fn built_in_sms_fits_one_gsm7_segment_with_the_longest_brand_and_code() {
        let brand = Brand::parse(&"W".repeat(Brand::MAX_CHARS)).unwrap();
        let code = code(10);
        for t in CATALOG {
            let locale = Locale::parse(t.language).unwrap();
            for brand in [Some(&brand), None] {
                let msg = render(Channel::Sms, input(&code, brand, &locale, None));
                let size = sms_size(&msg.text);
                assert_eq!(
                    size.encoding,
                    SmsEncoding::Gsm7,
                    "{}: {}",
                    t.language,
                    msg.text
                );
                assert_eq!(size.segments, 1, "{}: {} units", t.language, size.units);
            }
        }
    }

    #[test]
    fn sms_renders_code_brand_and_minutes() {
        let brand = Brand::parse("Acme").unwrap();
        let code = code(6);
        let en = Locale::default();
        let msg = render(Channel::Sms, input(&code, Some(&brand), &en, None));
        assert_eq!(
            msg.text,
            format!(
                "{} is your Acme verification code. It expires in 5 min. Never share it.",
                code.expose()
            )
        );
        assert!(msg.subject.is_none() && msg.html.is_none());
        let fr = Locale::parse("fr-CA").unwrap();
        let msg = render(Channel::Sms, input(&code, None, &fr, None));
        assert!(
            msg.text
                .starts_with(&format!("{} est votre code", code.expose()))
        );
    }

    #[test]
    fn custom_templates_fill_every_placeholder_once() {
        let brand = Brand::parse("{code}").unwrap();
        let code = code(6);
        let template =
            CustomTemplate::parse("{brand}: use {code} to {purpose} within {minutes} min").unwrap();
        let msg = render(
            Channel::Sms,
            input(&code, Some(&brand), &Locale::default(), Some(&template)),
        );
        assert_eq!(
            msg.text,
            format!("{{code}}: use {} to login within 5 min", code.expose())
        );
    }

    #[test]
    fn invalid_templates_are_refused_with_a_reason() {
        let cases = [
            ("Your code", "must contain {code}"),
            ("{code} {minute}", "unknown placeholder {minute}"),
            ("{code} {", "opens no placeholder"),
            ("{code} }", "closes no placeholder"),
            ("{code} {{brand}}", "opens no placeholder"),
            ("{code}\u{7}", "control characters"),
        ];
        for (template, reason) in cases {
            let err = CustomTemplate::parse(template).unwrap_err();
            assert!(err.0.contains(reason), "{template:?}: {}", err.0);
        }
        assert!(CustomTemplate::parse(&format!("{{code}}{}", "x".repeat(994))).is_ok());
        assert!(CustomTemplate::parse(&format!("{{code}}{}", "x".repeat(995))).is_err());
        assert!(CustomTemplate::parse("Line one\n{code}").is_ok());
    }

    #[test]
    fn email_has_subject_text_and_escaped_html() {
        let brand = Brand::parse("<b>Acme & Co</b>").unwrap();
        let code = code(8);
        let de = Locale::parse("de-CH").unwrap();
        let msg = render(Channel::Email, input(&code, Some(&brand), &de, None));
        assert_eq!(
            msg.subject.as_deref(),
            Some("Ihr <b>Acme & Co</b> Bestätigungscode")
        );
        assert!(msg.text.contains(code.expose()));
        assert!(msg.text.contains("Der Code ist 5 Min. gültig."));
        let html = msg.html.unwrap();
        assert!(html.contains("lang=\"de\""));
        assert!(html.contains("&lt;b&gt;Acme &amp; Co&lt;/b&gt;"));
        assert!(!html.contains("<b>Acme"));
        assert!(html.contains(code.expose()));
    }

    #[test]
    fn email_with_a_custom_template_uses_it_as_the_text_part() {
        let code = code(6);
        let template = CustomTemplate::parse("Hello,\nyour code: {code}").unwrap();
        let msg = render(
            Channel::Email,
            input(&code, None, &Locale::default(), Some(&template)),
        );
        assert_eq!(msg.text, format!("Hello,\nyour code: {}", code.expose()));
        assert_eq!(msg.subject.as_deref(), Some("Your verification code"));
        assert!(
            msg.html
                .unwrap()
                .contains(&format!("Hello,<br>\nyour code: {}", code.expose()))
        );
    }

    #[test]
    fn debug_output_hides_bodies() {
        let code = code(6);
        let msg = render(Channel::Email, input(&code, None, &Locale::default(), None));
        assert!(!format!("{msg:?}").contains(code.expose()));
    }

    fn binding(origin: Option<&str>, app_hash: Option<&str>) -> SmsBinding {
        SmsBinding {
            origin: origin.map(|o| WebOtpOrigin::parse(o).unwrap()),
            app_hash: app_hash.map(|h| AndroidAppHash::parse(h).unwrap()),
        }
    }

    fn render_bound(
        code: &Code,
        template: Option<&CustomTemplate>,
        binding: &SmsBinding,
    ) -> RenderedMessage {
        let en = Locale::default();
        let message = MessageInput {
            sms_binding: Some(binding),
            ..input(code, None, &en, template)
        };
        render(Channel::Sms, message)
    }

    #[test]
    fn sms_ends_with_the_web_otp_line_for_an_origin() {
        let code = code(6);
        let c = code.expose();
        let msg = render_bound(&code, None, &binding(Some("Example.com"), None));
        assert_eq!(
            msg.text,
            format!(
                "{c} is your verification code. It expires in 5 min. Never share it.\n\n@example.com #{c}"
            )
        );
    }

    #[test]
    fn sms_ends_with_the_app_hash_for_an_android_app() {
        let code = code(6);
        let c = code.expose();
        let template = CustomTemplate::parse("Your code: {code}").unwrap();
        let msg = render_bound(&code, Some(&template), &binding(None, Some("FA+9qCX9VSu")));
        assert_eq!(msg.text, format!("Your code: {c}\n\nFA+9qCX9VSu"));
    }

    #[test]
    fn sms_puts_the_app_hash_before_the_web_otp_line_which_stays_last() {
        let code = code(6);
        let c = code.expose();
        // However the template ends, one blank line separates the binding from the text.
        let template = CustomTemplate::parse("Your code: {code}\n\n").unwrap();
        let both = binding(Some("www.example.co.uk"), Some("FA+9qCX9VSu"));
        let msg = render_bound(&code, Some(&template), &both);
        assert_eq!(
            msg.text,
            format!("Your code: {c}\n\nFA+9qCX9VSu\n@www.example.co.uk #{c}")
        );
    }

    #[test]
    fn an_empty_binding_and_email_leave_the_message_as_it_was() {
        let code = code(6);
        let en = Locale::default();
        let plain = render(Channel::Sms, input(&code, None, &en, None));
        let empty = render_bound(&code, None, &SmsBinding::default());
        assert_eq!(empty, plain);
        let both = binding(Some("example.com"), Some("FA+9qCX9VSu"));
        let email = MessageInput {
            sms_binding: Some(&both),
            ..input(&code, None, &en, None)
        };
        assert_eq!(
            render(Channel::Email, email),
            render(Channel::Email, input(&code, None, &en, None))
        );
    }

    /// Collects what a tracing subscriber writes, for tests to read.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The `segments` of every "more than one segment" warning logged while rendering.
    fn segment_warnings(render_it: impl FnOnce() -> RenderedMessage) -> Vec<u64> {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, render_it);
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        logs.lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter_map(|line| line["fields"]["segments"].as_u64())
            .collect()
    }

    #[test]
    fn the_segment_warning_counts_the_binding_too() {
        let code = code(6);
        // 6 + 149 = 155 septets: one segment alone, two with the binding.
        let template = CustomTemplate::parse(&format!("{{code}}{}", "x".repeat(149))).unwrap();
        let en = Locale::default();
        let alone =
            segment_warnings(|| render(Channel::Sms, input(&code, None, &en, Some(&template))));
        assert!(alone.is_empty(), "{alone:?}");
        let both = binding(Some("example.com"), Some("FA+9qCX9VSu"));
        let mut text = String::new();
        let bound = segment_warnings(|| {
            let msg = render_bound(&code, Some(&template), &both);
            text = msg.text.clone();
            msg
        });
        assert_eq!(sms_size(&text).segments, 2);
        assert_eq!(bound, [2]);
    }
}

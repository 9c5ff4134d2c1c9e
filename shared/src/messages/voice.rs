//! A voice call that speaks the code: SSML for Amazon Polly through End User Messaging SMS and
//! Voice v2. The code is spoken one character at a time with a pause after each, said again
//! (twice in all by default), in the locale's built-in words and its documented Polly voice.

use super::catalog::texts_for;
use super::input::MessageInput;

/// How many times the code is said, by default.
pub const DEFAULT_REPEATS: u8 = 2;
/// The most times a call may say it: a longer call costs more and says nothing new.
pub const MAX_REPEATS: u8 = 3;
/// End User Messaging's limit on an SSML body, in characters.
pub const MAX_SSML_CHARS: usize = 6000;

/// The pause after each character of the code, and between the parts of the call.
const CHARACTER_PAUSE: &str = "400ms";
const PART_PAUSE: &str = "1s";

/// How fast Polly's standard voices speak plain text, in characters a second (about 150 words a
/// minute): what a call's length is estimated with, besides its pauses.
const CHARACTERS_PER_SECOND: u64 = 14;

/// A rendered call. Its `Debug` hides both bodies: they carry the code.
#[derive(Clone, PartialEq, Eq)]
pub struct VoiceMessage {
    /// What `SendVoiceMessage` takes as `MessageBody` with `MessageBodyTextType: SSML`.
    pub ssml: String,
    /// The same words as plain text, as a person would hear them (otp-local's outbox shows it).
    pub spoken: String,
    /// The Polly `VoiceId` and the locale it speaks.
    pub voice_id: &'static str,
    pub voice_locale: &'static str,
}

impl VoiceMessage {
    /// How long the call speaks, estimated: its words at Polly's pace, and its pauses.
    pub fn estimated_length(&self) -> std::time::Duration {
        let mut pauses_ms = 0;
        let mut rest = self.ssml.as_str();
        while let Some(start) = rest.find("<break time=\"") {
            rest = &rest[start + "<break time=\"".len()..];
            let value = rest.split('"').next().unwrap_or_default();
            pauses_ms += match value.strip_suffix("ms") {
                Some(ms) => ms.parse::<u64>().unwrap_or(0),
                None => {
                    value
                        .strip_suffix('s')
                        .and_then(|s| s.parse::<u64>().ok())
                        .unwrap_or(0)
                        * 1000
                }
            };
        }
        let speaking_ms = self.spoken.chars().count() as u64 * 1000 / CHARACTERS_PER_SECOND;
        std::time::Duration::from_millis(pauses_ms + speaking_ms)
    }

    /// The minutes the call is billed, which the spend budget is charged: its estimated length in
    /// started minutes (End User Messaging bills voice by the minute), at least one.
    pub fn billed_minutes(&self) -> u64 {
        self.estimated_length().as_secs().div_ceil(60).max(1)
    }
}

impl std::fmt::Debug for VoiceMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceMessage")
            .field("voice_id", &self.voice_id)
            .field("voice_locale", &self.voice_locale)
            .finish_non_exhaustive()
    }
}

/// The call for `input` (its code, brand, lifetime and locale), saying the code `repeats` times
/// (1 to [`MAX_REPEATS`]; out of range is clamped). A custom template does not apply: a call is
/// always the built-in words.
pub fn render_voice(input: &MessageInput<'_>, repeats: u8) -> VoiceMessage {
    let texts = texts_for(input.locale);
    let intro = match input.brand {
        Some(brand) => texts.intro_branded.replace("{brand}", brand.as_str()),
        None => texts.intro.to_owned(),
    };
    let expiry = texts
        .voice_expiry
        .replace("{minutes}", &input.ttl.minutes().to_string());
    let code = input.code.expose();
    let repeats = repeats.clamp(1, MAX_REPEATS);

    let mut ssml = format!(
        "<speak><lang xml:lang=\"{}\">{}<break time=\"{PART_PAUSE}\"/>",
        texts.voice_locale,
        escape(&intro)
    );
    let mut spoken = intro.clone();
    for round in 0..repeats {
        if round > 0 {
            ssml.push_str(&escape(texts.voice_repeat));
            ssml.push_str(&format!("<break time=\"{PART_PAUSE}\"/>"));
            spoken.push(' ');
            spoken.push_str(texts.voice_repeat);
        }
        for character in code.chars() {
            ssml.push_str(&format!(
                "<say-as interpret-as=\"characters\">{}</say-as><break time=\"{CHARACTER_PAUSE}\"/>",
                escape(&character.to_string())
            ));
        }
        ssml.push_str(&format!("<break time=\"{PART_PAUSE}\"/>"));
        spoken.push(' ');
        spoken.push_str(&spell(code));
        spoken.push('.');
    }
    ssml.push_str(&escape(&expiry));
    ssml.push_str("</lang></speak>");
    spoken.push(' ');
    spoken.push_str(&expiry);
    VoiceMessage {
        ssml,
        spoken,
        voice_id: texts.voice_id,
        voice_locale: texts.voice_locale,
    }
}

/// The code as it is heard: its characters one by one.
fn spell(code: &str) -> String {
    code.chars().map(String::from).collect::<Vec<_>>().join(" ")
}

/// Text as SSML character data: a brand may carry `&`, `<` or quotes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::SeededRandomness;
    use crate::domain::{Alphabet, Brand, Code, CodeLength, CodeSpec, Locale, Purpose, Ttl};

    fn code(alphabet: Alphabet) -> Code {
        Code::generate(
            CodeSpec {
                alphabet,
                length: CodeLength::parse(6).unwrap(),
            },
            &SeededRandomness::new(3),
        )
    }

    fn input<'a>(
        code: &'a Code,
        brand: Option<&'a Brand>,
        locale: &'a Locale,
        purpose: &'a Purpose,
    ) -> MessageInput<'a> {
        MessageInput {
            code,
            brand,
            ttl: Ttl::parse(300).unwrap(),
            purpose,
            locale,
            template: None,
            sms_binding: None,
            transaction: None,
            voice_repeats: DEFAULT_REPEATS,
        }
    }

    #[test]
    fn the_code_is_spoken_character_by_character_twice_with_pauses() {
        let code = code(Alphabet::Digits);
        let (locale, purpose) = (Locale::default(), Purpose::default());
        let call = render_voice(&input(&code, None, &locale, &purpose), DEFAULT_REPEATS);
        let digits: String = code
            .expose()
            .chars()
            .map(|c| {
                format!("<say-as interpret-as=\"characters\">{c}</say-as><break time=\"400ms\"/>")
            })
            .collect();
        assert_eq!(call.ssml.matches(&digits).count(), 2, "{}", call.ssml);
        assert!(
            call.ssml
                .starts_with("<speak><lang xml:lang=\"en-US\">Your verification code is:")
        );
        assert!(call.ssml.contains("Again, your code is:"));
        assert!(
            call.ssml
                .ends_with("It expires in 5 minutes.</lang></speak>")
        );
        assert_eq!(call.voice_id, "JOANNA");
        assert_eq!(call.spoken.matches(&spell(code.expose())).count(), 2);
        let once = render_voice(&input(&code, None, &locale, &purpose), 1);
        assert_eq!(once.ssml.matches(&digits).count(), 1);
        assert!(!once.ssml.contains("Again"));
        let clamped = render_voice(&input(&code, None, &locale, &purpose), 9);
        assert_eq!(
            clamped.ssml.matches(&digits).count(),
            usize::from(MAX_REPEATS)
        );
    }

    /// A six-digit call said twice lasts about half a minute (12 pauses of 400 ms, 3 of a second
    /// and about 140 characters of speech): one billed minute; said three times, still one.
    #[test]
    fn a_call_is_billed_its_started_minutes() {
        let code = code(Alphabet::Digits);
        let (locale, purpose) = (Locale::default(), Purpose::default());
        let twice = render_voice(&input(&code, None, &locale, &purpose), 2);
        let length = twice.estimated_length();
        assert!(
            (std::time::Duration::from_secs(15)..std::time::Duration::from_secs(40))
                .contains(&length),
            "{length:?}"
        );
        assert_eq!(twice.billed_minutes(), 1);
        let thrice = render_voice(&input(&code, None, &locale, &purpose), 3);
        assert!(thrice.estimated_length() > length);
        assert_eq!(thrice.billed_minutes(), 1);
        // A call past a minute is billed two.
        let long = VoiceMessage {
            ssml: "<speak><break time=\"61s\"/></speak>".into(),
            ..twice
        };
        assert_eq!(
            long.billed_minutes(),
            2,
            "61 s of pause and the spoken words"
        );
    }

    #[test]
    fn each_language_has_its_own_words_and_voice() {
        let code = code(Alphabet::Digits);
        let purpose = Purpose::default();
        for (tag, voice, again) in [
            ("es", "LUCIA", "Repito"),
            ("fr-CA", "LEA", "Je répète"),
            ("de", "VICKI", "Noch einmal"),
            ("pt-BR", "CAMILA", "Repetindo"),
            ("ja", "JOANNA", "Again"),
        ] {
            let locale = Locale::parse(tag).unwrap();
            let call = render_voice(&input(&code, None, &locale, &purpose), 2);
            assert_eq!(call.voice_id, voice, "{tag}");
            assert!(call.ssml.contains(again), "{tag}: {}", call.ssml);
        }
    }

    #[test]
    fn a_brand_is_escaped_and_letters_are_spelled() {
        let code = code(Alphabet::Alphanumeric);
        let (locale, purpose) = (Locale::default(), Purpose::default());
        let brand = Brand::parse("Smith & <Sons>").unwrap();
        let call = render_voice(&input(&code, Some(&brand), &locale, &purpose), 2);
        assert!(
            call.ssml
                .contains("Your Smith &amp; &lt;Sons&gt; verification code is:")
        );
        assert!(!call.ssml.contains("<Sons>"));
        assert!(
            call.spoken.contains("Smith & <Sons>"),
            "the plain text is not escaped"
        );
        for c in code.expose().chars() {
            assert!(
                call.ssml
                    .contains(&format!("interpret-as=\"characters\">{c}<"))
            );
        }
        assert!(call.ssml.chars().count() < MAX_SSML_CHARS);
        assert!(!format!("{call:?}").contains(code.expose()));
    }

    #[test]
    fn every_language_names_a_voice_end_user_messaging_knows() {
        // From the VoiceId enum of the service's model (botocore pinpoint-sms-voice-v2 2022-03-31).
        const KNOWN: &[&str] = &[
            "JOANNA", "LUCIA", "LEA", "VICKI", "CAMILA", "INES", "CELINE",
        ];
        for texts in crate::messages::CATALOG {
            assert!(KNOWN.contains(&texts.voice_id), "{}", texts.language);
            assert!(
                texts.voice_expiry.contains("{minutes}"),
                "{}",
                texts.language
            );
        }
    }
}

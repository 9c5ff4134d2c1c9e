//! How many SMS segments a text needs: GSM-7 (160 characters, 153 per part when split) if every
//! character is in the GSM 03.38 alphabet, else UCS-2 (70, 67 per part, counted in UTF-16 units).

/// The GSM 03.38 basic character set, one septet each.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: two septets each (escape + character).
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{0c}";

/// The most segments an SMS may take. One: a code in two parts arrives in pieces (or, when a
/// carrier joins them, costs double), and the budget is priced per segment.
pub const MAX_SMS_SEGMENTS: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// The encoding a text will be sent in and the number of segments it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsSize {
    pub encoding: SmsEncoding,
    /// Septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    pub segments: usize,
}

impl SmsSize {
    /// Whether the text is short enough to send: at most [`MAX_SMS_SEGMENTS`].
    pub fn fits(&self) -> bool {
        self.segments <= MAX_SMS_SEGMENTS
    }
}

pub fn sms_size(text: &str) -> SmsSize {
    let gsm7_units = text.chars().try_fold(0usize, |units, c| {
        if GSM7_BASIC.contains(c) {
            Some(units + 1)
        } else if GSM7_EXTENSION.contains(c) {
            Some(units + 2)
        } else {
            None
        }
    });
    let (encoding, units, single, part) = match gsm7_units {
        Some(units) => (SmsEncoding::Gsm7, units, 160, 153),
        None => (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    SmsSize {
        encoding,
        units,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_texts_fit_160_septets_per_segment() {
        let size = sms_size(&"a".repeat(160));
        assert_eq!(
            size,
            SmsSize {
                encoding: SmsEncoding::Gsm7,
                units: 160,
                segments: 1
            }
        );
        assert_eq!(sms_size(&"a".repeat(161)).segments, 2);
        assert_eq!(sms_size(&"a".repeat(306)).segments, 2);
        assert_eq!(sms_size(&"a".repeat(307)).segments, 3);
        assert!(sms_size(&"a".repeat(160)).fits());
        assert!(!sms_size(&"a".repeat(161)).fits());
    }

    #[test]
    fn extension_characters_take_two_septets() {
        let size = sms_size("€{}");
        assert_eq!(size.encoding, SmsEncoding::Gsm7);
        assert_eq!(size.units, 6);
        assert_eq!(sms_size(&"€".repeat(81)).segments, 2);
    }

    #[test]
    fn accented_letters_in_gsm7_stay_gsm7() {
        assert_eq!(
            sms_size("Bestätigungscode für Sie, vérification").encoding,
            SmsEncoding::Gsm7
        );
    }

    #[test]
    fn other_characters_switch_to_ucs2() {
        let size = sms_size("código");
        assert_eq!(size.encoding, SmsEncoding::Ucs2);
        assert_eq!(size.units, 6);
        assert_eq!(sms_size(&"ó".repeat(70)).segments, 1);
        assert_eq!(sms_size(&"ó".repeat(71)).segments, 2);
        // An emoji is two UTF-16 units.
        assert_eq!(sms_size("🙂").units, 2);
    }
}

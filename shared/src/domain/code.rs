use std::fmt;

use rand::distr::{Distribution, Uniform};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::Invalid;
use crate::crypto::{Randomness, RandomnessRng};

/// The symbols a code is made of. Letter alphabets are upper case and leave out the characters that
/// are easily misread for one another (O/0, I/1/L), so what a user reads is what they type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    #[default]
    Digits,
    Letters,
    Alphanumeric,
}

impl Alphabet {
    pub const fn symbols(self) -> &'static [u8] {
        match self {
            Alphabet::Digits => b"0123456789",
            Alphabet::Letters => b"ABCDEFGHJKMNPQRSTUVWXYZ",
            Alphabet::Alphanumeric => b"23456789ABCDEFGHJKMNPQRSTUVWXYZ",
        }
    }
}

/// The number of symbols in a code: 4 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLength(u8);

impl CodeLength {
    pub const MIN: u8 = 4;
    pub const MAX: u8 = 10;

    pub fn parse(value: u64) -> Result<Self, Invalid> {
        if (u64::from(Self::MIN)..=u64::from(Self::MAX)).contains(&value) {
            Ok(Self(value as u8))
        } else {
            Err(Invalid::new(format!(
                "must be between {} and {}",
                Self::MIN,
                Self::MAX
            )))
        }
    }

    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for CodeLength {
    fn default() -> Self {
        Self(6)
    }
}

/// What a generated code looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodeSpec {
    pub alphabet: Alphabet,
    pub length: CodeLength,
}

/// A freshly generated one-time code. It is the secret: its `Debug` hides it and its memory is wiped
/// when dropped.
#[derive(Clone)]
pub struct Code(Zeroizing<String>);

impl Code {
    /// Draws each symbol independently and uniformly from the alphabet. `Uniform::sample` is
    /// rand's rejection sampler (Lemire's method): no modulo bias.
    pub fn generate(spec: CodeSpec, randomness: &dyn Randomness) -> Self {
        let symbols = spec.alphabet.symbols();
        let index = Uniform::new(0u32, symbols.len() as u32).expect("alphabets are never empty");
        let mut rng = RandomnessRng::new(randomness);
        let mut code = Zeroizing::new(String::with_capacity(spec.length.get()));
        for _ in 0..spec.length.get() {
            code.push(char::from(symbols[index.sample(&mut rng) as usize]));
        }
        Self(code)
    }

    /// A test destination's configured code, in the normalised form a typed attempt takes, so the
    /// same comparison accepts it.
    pub fn fixed(code: CodeAttempt) -> Self {
        Self(code.0)
    }

    /// The code as it goes into a message. Only message rendering should need this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

/// What a user typed as a code, normalised the way codes are generated: spaces and dashes removed,
/// letters upper-cased. Whether it is right is for the store to say.
pub struct CodeAttempt(Zeroizing<String>);

impl CodeAttempt {
    /// Longest input accepted after normalising; anything longer is not a typing slip.
    const MAX_LEN: usize = 32;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let mut normalized = Zeroizing::new(String::with_capacity(input.len().min(Self::MAX_LEN)));
        for c in input.chars() {
            if c.is_whitespace() || matches!(c, '-' | '‐' | '‑' | '–' | '—') {
                continue;
            }
            if !c.is_ascii_alphanumeric() {
                return Err(Invalid::new(
                    "may only contain letters, digits, spaces and dashes",
                ));
            }
            if normalized.len() == Self::MAX_LEN {
                return Err(Invalid::new(format!(
                    "must be at most {} characters",
                    Self::MAX_LEN
                )));
            }
            normalized.push(c.to_ascii_uppercase());
        }
        if normalized.is_empty() {
            return Err(Invalid::new("must not be empty"));
        }
        Ok(Self(normalized))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CodeAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeAttempt(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::SeededRandomness;

    fn spec(alphabet: Alphabet, length: u64) -> CodeSpec {
        CodeSpec {
            alphabet,
            length: CodeLength::parse(length).unwrap(),
        }
    }

    #[test]
    fn codes_have_the_requested_length_and_alphabet() {
        let random = SeededRandomness::new(1);
        for alphabet in [Alphabet::Digits, Alphabet::Letters, Alphabet::Alphanumeric] {
            for length in 4..=10 {
                for _ in 0..50 {
                    let code = Code::generate(spec(alphabet, length), &random);
                    assert_eq!(code.expose().len(), length as usize);
                    assert!(
                        code.expose()
                            .bytes()
                            .all(|b| alphabet.symbols().contains(&b)),
                        "{alphabet:?} code has a foreign symbol"
                    );
                }
            }
        }
    }

    #[test]
    fn letter_alphabets_leave_out_look_alikes() {
        for alphabet in [Alphabet::Letters, Alphabet::Alphanumeric] {
            for confusable in *b"O0I1L" {
                assert!(!alphabet.symbols().contains(&confusable), "{alphabet:?}");
            }
            assert!(alphabet.symbols().iter().all(|b| !b.is_ascii_lowercase()));
        }
    }

    #[test]
    fn lengths_outside_four_to_ten_are_refused() {
        for bad in [0, 3, 11, 255, 256, u64::MAX] {
            assert!(CodeLength::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(CodeLength::default().get(), 6);
    }

    /// Pearson's chi-square over the symbol counts of 10^5 codes. A modulo-reduced byte (256 % 31
    /// leaves 8 symbols a 9/8 share) scores in the thousands for the 31-symbol alphabet; a uniform
    /// draw stays under the 0.1% critical value.
    #[test]
    fn symbols_are_uniformly_distributed() {
        // 0.1% critical values of chi-square for 9, 22 and 30 degrees of freedom.
        let cases = [
            (Alphabet::Digits, 27.877),
            (Alphabet::Letters, 48.268),
            (Alphabet::Alphanumeric, 59.703),
        ];
        let random = SeededRandomness::new(20_261_122);
        for (alphabet, critical) in cases {
            let symbols = alphabet.symbols();
            let mut counts = vec![0u64; symbols.len()];
            let codes = 100_000;
            for _ in 0..codes {
                let code = Code::generate(spec(alphabet, 6), &random);
                for b in code.expose().bytes() {
                    counts[symbols.iter().position(|s| *s == b).unwrap()] += 1;
                }
            }
            let expected = (codes * 6) as f64 / symbols.len() as f64;
            let chi_square: f64 = counts
                .iter()
                .map(|&n| (n as f64 - expected).powi(2) / expected)
                .sum();
            assert!(
                chi_square < critical,
                "{alphabet:?}: chi-square {chi_square:.1} ≥ {critical}"
            );
        }
    }

    #[test]
    fn the_chi_square_test_catches_modulo_bias() {
        // The same statistic over a deliberately biased draw must fail, or the test above proves nothing.
        let symbols = Alphabet::Alphanumeric.symbols();
        let random = SeededRandomness::new(7);
        let mut counts = vec![0u64; symbols.len()];
        let mut bytes = vec![0u8; 600_000];
        random.fill(&mut bytes);
        for b in &bytes {
            counts[usize::from(*b) % symbols.len()] += 1;
        }
        let expected = bytes.len() as f64 / symbols.len() as f64;
        let chi_square: f64 = counts
            .iter()
            .map(|&n| (n as f64 - expected).powi(2) / expected)
            .sum();
        assert!(
            chi_square > 59.703,
            "biased draw scored only {chi_square:.1}"
        );
    }

    #[test]
    fn attempts_are_normalised_like_codes() {
        let cases = [
            ("123456", "123456"),
            ("123 456", "123456"),
            ("123-456", "123456"),
            (" 12 34-56 ", "123456"),
            ("abcd-efgh", "ABCDEFGH"),
            ("AbC\t2", "ABC2"),
        ];
        for (typed, normalized) in cases {
            assert_eq!(CodeAttempt::parse(typed).unwrap().expose(), normalized);
        }
    }

    #[test]
    fn attempts_with_foreign_characters_or_absurd_lengths_are_refused() {
        for bad in ["", "  - ", "12345!", "١٢٣٤٥٦", "12345é", &"1".repeat(33)] {
            assert!(CodeAttempt::parse(bad).is_err(), "{bad:?}");
        }
        assert!(CodeAttempt::parse(&"1".repeat(32)).is_ok());
    }

    #[test]
    fn debug_output_never_shows_a_code() {
        let code = Code::generate(CodeSpec::default(), &SeededRandomness::new(3));
        assert!(!format!("{code:?}").contains(code.expose()));
        let attempt = CodeAttempt::parse("987654").unwrap();
        assert!(!format!("{attempt:?}").contains("987654"));
    }
}

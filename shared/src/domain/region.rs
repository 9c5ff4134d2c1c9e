//! Countries and money: what the SMS rules (allow-list, prices, daily budget) are written in.

use std::fmt;

use super::Invalid;

/// An ISO 3166-1 alpha-2 country code (`GB`), as libphonenumber names regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region([u8; 2]);

impl Region {
    /// Two letters, any case; only codes libphonenumber knows a numbering plan for.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let code = input.trim().to_ascii_uppercase();
        if code.len() != 2 || code.parse::<phonenumber::country::Id>().is_err() {
            return Err(Invalid::new(
                "must be an ISO 3166-1 alpha-2 country code with a numbering plan, e.g. GB",
            ));
        }
        let bytes = code.as_bytes();
        Ok(Self([bytes[0], bytes[1]]))
    }

    pub(crate) fn from_id(id: phonenumber::country::Id) -> Self {
        let code = id.as_ref().as_bytes();
        Self([code[0], code[1]])
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("two ASCII letters")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money in millionths of the unit the prices are written in (USD for SNS), so
/// budgets add up exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(u64);

impl Money {
    pub const ZERO: Money = Money(0);
    const SCALE: u64 = 1_000_000;

    /// A plain decimal: `0.0395`, `100`, `12.5` — at most 6 decimals, no sign, no exponent.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let invalid = || Invalid::new("must be an amount such as 0.0395 (at most 6 decimals)");
        let input = input.trim();
        let (whole, fraction) = input.split_once('.').unwrap_or((input, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 12 || fraction.len() > 6 {
            return Err(invalid());
        }
        if !digits(whole) || !digits(fraction) || (input.contains('.') && fraction.is_empty()) {
            return Err(invalid());
        }
        let whole: u64 = whole.parse().map_err(|_| invalid())?;
        let fraction: u64 = format!("{fraction:0<6}").parse().map_err(|_| invalid())?;
        Ok(Self(whole * Self::SCALE + fraction))
    }

    pub fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    pub fn micros(self) -> u64 {
        self.0
    }

    /// `count` of this amount (an SMS of three segments costs three prices); at worst the largest
    /// amount, never a wrap to a small one.
    pub fn times(self, count: u64) -> Self {
        Self(self.0.saturating_mul(count))
    }

    /// For metrics, which CloudWatch keeps as doubles anyway.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / Self::SCALE as f64
    }
}

impl fmt::Display for Money {
    /// `0.0395`, `100.00`: at least two decimals, no trailing zeros beyond them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fraction = format!("{:06}", self.0 % Self::SCALE);
        let trimmed = fraction.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &fraction[..2]
        } else {
            trimmed
        };
        write!(f, "{}.{shown}", self.0 / Self::SCALE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_known_two_letter_codes() {
        assert_eq!(Region::parse("gb").unwrap().as_str(), "GB");
        assert_eq!(Region::parse(" US ").unwrap().to_string(), "US");
        for bad in ["", "G", "GBR", "ZZ", "1A", "U S"] {
            assert!(Region::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn money_is_exact_to_the_millionth() {
        assert_eq!(Money::parse("0.0395").unwrap().micros(), 39_500);
        assert_eq!(Money::parse("100").unwrap().micros(), 100_000_000);
        assert_eq!(Money::parse("12.5").unwrap().micros(), 12_500_000);
        assert_eq!(Money::parse("0.000001").unwrap().micros(), 1);
        assert_eq!(Money::parse("100.00").unwrap().to_string(), "100.00");
        assert_eq!(Money::parse("0.0395").unwrap().to_string(), "0.0395");
        assert_eq!(Money::parse("7").unwrap().to_string(), "7.00");
        assert_eq!(
            Money::parse("0.0395").unwrap().times(3).to_string(),
            "0.1185"
        );
        assert_eq!(Money::parse("0.10").unwrap().times(0), Money::ZERO);
        assert_eq!(Money::from_micros(u64::MAX / 2).times(3).micros(), u64::MAX);
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "1e3",
            "0.0000001",
            "1,5",
            "abc",
            "1.2.3",
        ] {
            assert!(Money::parse(bad).is_err(), "{bad:?}");
        }
    }
}

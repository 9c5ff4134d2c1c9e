//! What a code confirms when it confirms a payment: amount, currency and payee, shown in the
//! message and carried by the proof token, so the code is bound to this transaction and no other
//! (dynamic linking, as PSD2 strong customer authentication asks).

use serde::{Deserialize, Serialize};

use super::Invalid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    amount: String,
    currency: String,
    payee: String,
}

impl Transaction {
    pub const MAX_PAYEE_CHARS: usize = 64;

    /// Each part checked; the error names the part (`amount`, `currency`, `payee`).
    pub fn parse(
        amount: &str,
        currency: &str,
        payee: &str,
    ) -> Result<Self, (&'static str, Invalid)> {
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let amount_ok = (1..=12).contains(&whole.len())
            && digits(whole)
            && (!amount.contains('.') || (1..=4).contains(&fraction.len()))
            && digits(fraction);
        if !amount_ok {
            return Err((
                "amount",
                Invalid::new(
                    "must be a decimal string such as \"12.50\" (up to 12 digits and 4 decimals)",
                ),
            ));
        }
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err((
                "currency",
                Invalid::new("must be an ISO 4217 code such as \"EUR\""),
            ));
        }
        let payee_trimmed = payee.trim();
        let chars = payee_trimmed.chars().count();
        if chars == 0 || chars > Self::MAX_PAYEE_CHARS {
            return Err((
                "payee",
                Invalid::new(format!("must be 1 to {} characters", Self::MAX_PAYEE_CHARS)),
            ));
        }
        if payee_trimmed.chars().any(char::is_control) || payee_trimmed.contains(['{', '}']) {
            return Err((
                "payee",
                Invalid::new("must not contain control characters or braces"),
            ));
        }
        Ok(Self {
            amount: amount.to_owned(),
            currency: currency.to_owned(),
            payee: payee_trimmed.to_owned(),
        })
    }

    /// The longest transaction: for checking that a template's SMS fits one segment.
    pub fn longest() -> Self {
        Self {
            amount: "999999999999.9999".to_owned(),
            currency: "EUR".to_owned(),
            payee: "W".repeat(Self::MAX_PAYEE_CHARS),
        }
    }

    pub fn amount(&self) -> &str {
        &self.amount
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    pub fn payee(&self) -> &str {
        &self.payee
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_currencies_and_payees_are_checked_part_by_part() {
        let t = Transaction::parse("12.50", "EUR", " Acme Ltd ").unwrap();
        assert_eq!(
            (t.amount(), t.currency(), t.payee()),
            ("12.50", "EUR", "Acme Ltd")
        );
        Transaction::parse("7", "GBP", "A").unwrap();
        for (amount, currency, payee, field) in [
            ("", "EUR", "A", "amount"),
            ("1.", "EUR", "A", "amount"),
            ("1.23456", "EUR", "A", "amount"),
            ("-1", "EUR", "A", "amount"),
            ("1e3", "EUR", "A", "amount"),
            ("1234567890123", "EUR", "A", "amount"),
            ("1", "eur", "A", "currency"),
            ("1", "EURO", "A", "currency"),
            ("1", "EUR", "", "payee"),
            ("1", "EUR", &"x".repeat(65), "payee"),
            ("1", "EUR", "{code}", "payee"),
            ("1", "EUR", "a\nb", "payee"),
        ] {
            assert_eq!(
                Transaction::parse(amount, currency, payee).unwrap_err().0,
                field,
                "{amount} {currency} {payee}"
            );
        }
    }
}

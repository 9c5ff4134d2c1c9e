//! A caller's or a profile's own message text, checked: its placeholders and nothing else.

use crate::domain::Invalid;

/// The placeholders a template may use.
const PLACEHOLDERS: [&str; 4] = ["code", "brand", "minutes", "purpose"];

/// The placeholders only a transaction template may use (and must).
const TRANSACTION_PLACEHOLDERS: [&str; 3] = ["amount", "currency", "payee"];

/// A caller's message text: contains `{code}`, may use `{brand}`, `{minutes}`, `{purpose}`, and
/// nothing else in braces.
#[derive(Clone, PartialEq, Eq)]
pub struct CustomTemplate(pub(super) String);

impl CustomTemplate {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        Self::parse_with(input, &[], &["code"])
    }

    /// A profile's transaction template: also `{amount}`, `{currency}` and `{payee}`, each of them
    /// required, so the message always names what the code confirms.
    pub fn parse_transaction(input: &str) -> Result<Self, Invalid> {
        Self::parse_with(
            input,
            &TRANSACTION_PLACEHOLDERS,
            &["code", "amount", "currency", "payee"],
        )
    }

    fn parse_with(input: &str, extra: &[&str], required: &[&str]) -> Result<Self, Invalid> {
        if input.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if input.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Invalid::new(
                "must not contain control characters other than newlines",
            ));
        }
        let mut used = Vec::new();
        for piece in pieces(input) {
            match piece {
                Piece::Placeholder(name)
                    if PLACEHOLDERS.contains(&name) || extra.contains(&name) =>
                {
                    used.push(name);
                }
                Piece::Placeholder(name) => {
                    let known: Vec<String> = PLACEHOLDERS
                        .iter()
                        .chain(extra)
                        .map(|p| format!("{{{p}}}"))
                        .collect();
                    return Err(Invalid::new(format!(
                        "has an unknown placeholder {{{name}}}; use {}",
                        known.join(", ")
                    )));
                }
                Piece::Unclosed => {
                    return Err(Invalid::new("has a '{' that opens no placeholder"));
                }
                Piece::Text(text) if text.contains('}') => {
                    return Err(Invalid::new("has a '}' that closes no placeholder"));
                }
                Piece::Text(_) => {}
            }
        }
        if let Some(missing) = required.iter().find(|r| !used.contains(r)) {
            return Err(Invalid::new(format!("must contain {{{missing}}}")));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn uses_brand(&self) -> bool {
        self.0.contains("{brand}")
    }

    pub fn uses_purpose(&self) -> bool {
        self.0.contains("{purpose}")
    }
}

impl std::fmt::Debug for CustomTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomTemplate({} chars)", self.0.chars().count())
    }
}

pub(super) enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
    Unclosed,
}

/// Splits a template into text and `{name}` placeholders, in one pass: substituted values are never
/// read again, so a brand such as "{code}" cannot smuggle in a placeholder.
pub(super) fn pieces(template: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = template;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find('{') {
            Some(0) => match rest.find('}') {
                Some(end) if !rest[1..end].contains('{') => {
                    let name = &rest[1..end];
                    rest = &rest[end + 1..];
                    Some(Piece::Placeholder(name))
                }
                _ => {
                    rest = "";
                    Some(Piece::Unclosed)
                }
            },
            Some(start) => {
                let text = &rest[..start];
                rest = &rest[start..];
                Some(Piece::Text(text))
            }
            None => {
                let text = rest;
                rest = "";
                Some(Piece::Text(text))
            }
        }
    })
}

//! What lets a phone fill in an SMS code by itself: the WebOTP origin line browsers look for
//! (`@example.com #123456`, the last line of the message) and the app hash Android's SMS Retriever
//! matches against the installed app.

use super::Invalid;

/// The host name of the site a code is for, as the WebOTP line names it (`example.com`): ASCII
/// (internationalised names in punycode), lower case, no scheme, port, path or trailing dot, and
/// not an IP address or a single label such as `localhost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOtpOrigin(String);

impl WebOtpOrigin {
    pub const MAX_CHARS: usize = 253;
    const MAX_LABEL_CHARS: usize = 63;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        // Messages never echo the input: it reaches the reply and the logs.
        let refuse = |why: &str| Err(Invalid::new(why.to_owned()));
        if input.is_empty() {
            return refuse("must be a host name such as example.com");
        }
        if input.contains("://") {
            return refuse("must be a host name only, without a scheme such as https://");
        }
        if !input.is_ascii() {
            return refuse("must be ASCII; write an internationalised name in punycode (xn--…)");
        }
        if input.contains(['/', '?', '#']) {
            return refuse("must be a host name only, without a path");
        }
        if input.contains('[') {
            return refuse("must be a host name, not an IP address");
        }
        if input.contains(':') {
            return refuse("must be a host name only, without a port");
        }
        if input.ends_with('.') {
            return refuse("must not end with a dot");
        }
        if input.len() > Self::MAX_CHARS {
            return refuse("must be at most 253 characters");
        }
        let host = input.to_ascii_lowercase();
        let labels: Vec<&str> = host.split('.').collect();
        for label in &labels {
            if label.is_empty() || label.len() > Self::MAX_LABEL_CHARS {
                return refuse("must have labels of 1 to 63 characters between its dots");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return refuse("must have labels of letters, digits and hyphens only");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return refuse("must not have a label that starts or ends with a hyphen");
            }
        }
        if labels.len() < 2 {
            return refuse("must have at least two labels, such as example.com");
        }
        // No top-level domain is all digits, so this refuses IPv4 addresses in every spelling.
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return refuse("must be a host name, not an IP address");
        }
        Ok(Self(host))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The 11-character hash Android's SMS Retriever API derives from an app's package name and
/// signing certificate; a message that contains it is handed to that app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndroidAppHash(String);

impl AndroidAppHash {
    pub const CHARS: usize = 11;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
        if input.len() != Self::CHARS || !input.bytes().all(allowed) {
            return Err(Invalid::new(
                "must be the 11-character SMS Retriever app hash (letters, digits, + and /)",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What binds an SMS to the site or app that asked for it, so the phone can offer the code there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsBinding {
    pub origin: Option<WebOtpOrigin>,
    pub app_hash: Option<AndroidAppHash>,
}

impl SmsBinding {
    pub fn is_empty(&self) -> bool {
        self.origin.is_none() && self.app_hash.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_lower_case_multi_label_host_names() {
        let cases = [
            ("example.com", "example.com"),
            ("www.example.co.uk", "www.example.co.uk"),
            ("Login.Example.COM", "login.example.com"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("a-b.c0", "a-b.c0"),
        ];
        for (input, host) in cases {
            assert_eq!(
                WebOtpOrigin::parse(input).unwrap().as_str(),
                host,
                "{input}"
            );
        }
        let longest_label = format!("{}.com", "a".repeat(63));
        assert!(WebOtpOrigin::parse(&longest_label).is_ok());
        let longest = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(61));
        assert_eq!(longest.len(), 253);
        assert!(WebOtpOrigin::parse(&longest).is_ok());
    }

    #[test]
    fn origins_with_more_than_a_host_name_are_refused_without_echoing_them() {
        let cases = [
            ("", "host name"),
            ("https://example.com", "scheme"),
            ("example.com:443", "port"),
            ("example.com/path", "path"),
            ("example.com?x=1", "path"),
            ("127.0.0.1", "IP address"),
            ("[::1]", "IP address"),
            ("::1", "port"),
            ("localhost", "two labels"),
            ("example.com.", "dot"),
            ("example..com", "labels of 1 to 63"),
            (".example.com", "labels of 1 to 63"),
            ("bücher.example", "ASCII"),
            ("exa_mple.com", "letters, digits and hyphens"),
            ("exa mple.com", "letters, digits and hyphens"),
            ("-example.com", "hyphen"),
            ("example-.com", "hyphen"),
            ("xn--.com", "hyphen"),
        ];
        for (input, reason) in cases {
            let err = WebOtpOrigin::parse(input).unwrap_err();
            assert!(err.0.contains(reason), "{input:?}: {}", err.0);
            if !input.is_empty() {
                assert!(!err.0.contains(input), "{input:?} echoed: {}", err.0);
            }
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(WebOtpOrigin::parse(&long_label).is_err());
        let too_long = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(62));
        assert!(WebOtpOrigin::parse(&too_long).is_err());
    }

    #[test]
    fn app_hashes_are_eleven_base64_characters() {
        for good in ["FA+9qCX9VSu", "abc/DEF0123"] {
            assert_eq!(AndroidAppHash::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "FA+9qCX9VS",
            "FA+9qCX9VSuX",
            "FA+9qCX9VS=",
            "FA-9qCX9VSu",
            "FA 9qCX9VSu",
        ] {
            let err = AndroidAppHash::parse(bad).unwrap_err();
            assert!(err.0.contains("11-character"), "{bad:?}");
        }
    }

    #[test]
    fn a_binding_with_nothing_in_it_is_empty() {
        assert!(SmsBinding::default().is_empty());
        let binding = SmsBinding {
            app_hash: Some(AndroidAppHash::parse("FA+9qCX9VSu").unwrap()),
            ..SmsBinding::default()
        };
        assert!(!binding.is_empty());
    }
}

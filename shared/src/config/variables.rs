//! Every variable a deployment may set, its default and its meaning: the table
//! docs/configuration.md is generated from.

use crate::settings::Settings;

impl Settings {
    /// Every variable, its default and its meaning; docs/configuration.md's table is generated from it (tests/api/docs.rs).
    pub const VARIABLES: &'static [(&'static str, &'static str, &'static str)] = &[
        (
            "OTP_MAX_ATTEMPTS",
            "5",
            "wrong attempts allowed per code (1–20) before it locks: the built-in `default` profile's, and other profiles' unless they set `max_attempts`",
        ),
        (
            "OTP_RESEND_COOLDOWN_SECONDS",
            "30",
            "seconds before a new code may be sent for the same destination and purpose (0–3600)",
        ),
        (
            "OTP_MAX_SENDS_PER_DESTINATION",
            "5",
            "sends allowed to one destination per window (1–1000)",
        ),
        (
            "OTP_SEND_WINDOW_SECONDS",
            "900",
            "length of that window in seconds (60–86400)",
        ),
        (
            "OTP_DEFAULT_TTL_SECONDS",
            "300",
            "the built-in `default` profile's code lifetime in seconds (30–600: NIST SP 800-63B caps out-of-band codes at 10 minutes)",
        ),
        (
            "OTP_DEFAULT_CODE_LENGTH",
            "6",
            "the built-in `default` profile's code length in digits (6–10: OWASP ASVS wants at least 20 bits)",
        ),
        (
            "OTP_DEFAULT_LOCALE",
            "en",
            "the built-in `default` profile's message language when a send gives no locale (BCP 47)",
        ),
        (
            "OTP_BRAND",
            "(none)",
            "the built-in `default` profile's brand, shown in its messages (≤ 32 characters)",
        ),
        (
            "OTP_TOTP_MAX_FAILURES",
            "10",
            "wrong authenticator or recovery codes in a row from one client network (3–10) that lock that network out of a user's TOTP",
        ),
        (
            "OTP_TOTP_LOCKOUT_SECONDS",
            "900",
            "how long a network's first such lock lasts, in seconds (900–86400); each later one until a success from it lasts twice the one before, at most 24 hours",
        ),
        (
            "OTP_TOTP_MAX_FAILURES_PER_DAY",
            "100",
            "wrong authenticator or recovery codes from all networks together within 24 hours (10–100) that lock a user's TOTP for everyone until the oldest leaves the window",
        ),
        (
            "OTP_TOKEN_ISSUER",
            "otp-lambda",
            "the `iss` of proof tokens (1–256 characters)",
        ),
        (
            "OTP_TOKEN_AUDIENCE",
            "otp-lambda-clients",
            "the `aud` of proof tokens: what your backend expects (1–256 characters); a profile's `token_audience` replaces it for that profile's sent codes",
        ),
        (
            "OTP_TOKEN_TTL_SECONDS",
            "300",
            "how long a proof token is valid (30–3600)",
        ),
        (
            "OTP_SIGNING_KEY_VERSION",
            "1",
            "the proof-signing key in use (1–1000); raise it to rotate: the previous key stays published",
        ),
        (
            "OTP_CLIENT_SENDS_PER_HOUR",
            "20",
            "sends (any channel) allowed from one client address per clock hour (1–1000000)",
        ),
        (
            "OTP_COUNTRY_SMS_PER_HOUR",
            "200",
            "SMS allowed to one country calling code per clock hour (1–1000000)",
        ),
        (
            "OTP_GLOBAL_SMS_PER_HOUR",
            "1000",
            "SMS allowed in all per clock hour (1–10000000)",
        ),
        (
            "OTP_GLOBAL_EMAIL_PER_HOUR",
            "2000",
            "emails allowed in all per clock hour (1–10000000)",
        ),
        (
            "OTP_SMS_ALLOWED_COUNTRIES",
            crate::abuse::DEFAULT_SMS_COUNTRIES,
            "ISO 3166-1 alpha-2 codes of the countries SMS may go to, comma-separated (the default: US, Canada, the UK with Guernsey, the Isle of Man and Jersey, which share +44, and the 27 EU countries)",
        ),
        (
            "OTP_SMS_DAILY_BUDGET",
            "100.00",
            "SMS and call spend allowed per UTC day, in the currency of the prices below (0–1000000, up to 6 decimals); once spent, SMS sends and calls are refused or fall back to email",
        ),
        (
            "OTP_SMS_PRICES",
            "(none)",
            "the price of one SMS segment per destination country, `GB=0.0395,US=0.00883` (your SNS prices); countries not listed cost `OTP_SMS_DEFAULT_PRICE`",
        ),
        (
            "OTP_SMS_DEFAULT_PRICE",
            "0.10",
            "the price of one SMS segment to a country not in `OTP_SMS_PRICES` (0–100)",
        ),
        (
            "OTP_VOICE_ALLOWED_COUNTRIES",
            "(none)",
            "ISO 3166-1 alpha-2 codes of the countries calls may go to, comma-separated; unset, calls go where `OTP_SMS_ALLOWED_COUNTRIES` lets SMS go",
        ),
        (
            "OTP_VOICE_PRICES",
            "(none)",
            "the price of one minute of a call per destination country, `GB=0.0135,US=0.013` (your End User Messaging voice prices); a call is charged its billed minutes against `OTP_SMS_DAILY_BUDGET`, the day's spend on SMS and calls together",
        ),
        (
            "OTP_VOICE_DEFAULT_PRICE",
            "0.10",
            "the price of one minute of a call to a country not in `OTP_VOICE_PRICES` (0–100)",
        ),
        (
            "OTP_VOICE_REPEATS",
            "2",
            "how many times a call says the code (1–3)",
        ),
        (
            "OTP_COUNTRY_VOICE_PER_HOUR",
            "40",
            "calls allowed to one country calling code per clock hour (1–1000000)",
        ),
        (
            "OTP_GLOBAL_VOICE_PER_HOUR",
            "200",
            "calls allowed in all per clock hour (1–10000000)",
        ),
        (
            "OTP_COUNTER_SHARDS",
            "16",
            "how many items each shared counter (SMS, calls and email per hour in all and per country, the day's spend) is split into (1–64): each takes 1/N of the sends' writes, so no DynamoDB item is hot; limits stay exact (see SCALING.md)",
        ),
        (
            "OTP_TEST_DESTINATIONS",
            "(none)",
            "test phone numbers / emails with fixed codes, `+12025550143=13579024,review@example.com=24681357` (codes of 8 to 10 letters or digits): no delivery and no SMS limits, but the client's quota and the guess budget apply, and every use is logged as an audit event with the destination masked; off unless set; read by the send function only",
        ),
        (
            "OTP_METRICS_NAMESPACE",
            "OtpLambda",
            "the CloudWatch namespace of the functions' embedded-metric-format records (the template sets `OtpLambda/<stack name>`)",
        ),
    ];
}

//! The bot-check rule on its own, with a provider double: who is checked, what is refused, and
//! what failing open and closed mean. The HTTP side (a fake `siteverify`, nothing stored or sent)
//! is in tests/api/bot_check.rs.

use std::sync::Arc;

use super::*;
use crate::adapters::RecordedMetrics;
use crate::adapters::{FixedAnswer, FixedBotCheck, ManualClock, MemoryStore, OsRandomness};
use crate::config::Settings;
use crate::crypto::Keys;
use crate::crypto::ServiceSecret;
use crate::domain::{
    BotCheckPolicy, BotCheckProvider, CaptchaToken, Channel, CodeSpec, Destination, Locale,
    Purpose, SmsBinding, Ttl,
};
use crate::ports::BotCheck;
use crate::profiles::Profile;

fn otp(
    answer: FixedAnswer,
) -> (
    Otp<MemoryStore, crate::adapters::NoDelivery>,
    Arc<FixedBotCheck>,
    Arc<RecordedMetrics>,
) {
    let secret = ServiceSecret::parse("a test secret of at least thirty-two bytes").unwrap();
    let check = Arc::new(FixedBotCheck::new(answer));
    let metrics = Arc::new(RecordedMetrics::new());
    let otp = Otp::new(
        MemoryStore::new(),
        crate::adapters::NoDelivery,
        Arc::new(ManualClock::default()),
        Arc::new(OsRandomness),
        Keys::derive(&secret),
        Settings::default(),
    )
    .with_bot_check(check.clone() as Arc<dyn BotCheck>)
    .with_metrics(metrics.clone());
    (otp, check, metrics)
}

fn request(policy: Option<BotCheckPolicy>, requester: Requester, token: bool) -> SendRequest {
    let mut profile = Profile::builtin(
        CodeSpec::default(),
        Ttl::default(),
        5,
        None,
        Locale::default(),
    );
    profile.bot_check = policy;
    SendRequest {
        profile: Arc::new(profile),
        destination: Destination::parse(Channel::Email, "ana@example.com").unwrap(),
        purpose: Purpose::default(),
        spec: CodeSpec::default(),
        ttl: Ttl::default(),
        template: None,
        brand: None,
        locale: Locale::default(),
        reference: None,
        transaction: None,
        client: None,
        requester,
        fallback: None,
        sms_binding: SmsBinding::default(),
        idempotency: None,
        captcha_token: token.then(|| CaptchaToken::parse("a-token").unwrap()),
    }
}

fn policy(fail_open: bool, hostnames: &[&str]) -> Option<BotCheckPolicy> {
    Some(BotCheckPolicy {
        provider: BotCheckProvider::Turnstile,
        fail_open,
        hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
    })
}

const BROWSER: Requester = Requester::Browser(None);

#[tokio::test]
async fn the_backend_and_profiles_without_a_check_are_never_checked() {
    let (otp, check, _) = otp(FixedAnswer::Refuse);
    let server = Requester::Server("backend".to_owned());
    assert!(
        otp.check_bot(&request(policy(false, &[]), server, false))
            .await
            .is_ok()
    );
    assert!(otp.check_bot(&request(None, BROWSER, true)).await.is_ok());
    assert_eq!(check.asked(), 0);
}

#[tokio::test]
async fn a_refused_or_missing_token_fails_and_is_counted() {
    let (otp, check, metrics) = otp(FixedAnswer::Refuse);
    for token in [true, false] {
        let refused = otp
            .check_bot(&request(policy(true, &[]), BROWSER, token))
            .await;
        assert!(matches!(
            refused,
            Err(SendError::BotCheck(BotCheckError::Failed))
        ));
    }
    assert_eq!(check.asked(), 1, "no token, no question");
    let counted = metrics.count(|e| {
        *e == MetricEvent::SendRefused {
            reason: "captcha-failed",
        }
    });
    assert_eq!(counted, 2);
}

#[tokio::test]
async fn a_passing_token_from_an_unlisted_host_fails() {
    let (otp, _, _) = otp(FixedAnswer::Pass);
    assert!(
        otp.check_bot(&request(policy(false, &[]), BROWSER, true))
            .await
            .is_ok()
    );
    // The double reports no host name: a profile that lists some refuses it.
    let refused = otp
        .check_bot(&request(policy(false, &["example.com"]), BROWSER, true))
        .await;
    assert!(matches!(
        refused,
        Err(SendError::BotCheck(BotCheckError::Failed))
    ));
}

#[tokio::test]
async fn no_verdict_fails_closed_unless_the_profile_fails_open() {
    let (otp, _, metrics) = otp(FixedAnswer::Unavailable);
    let closed = otp
        .check_bot(&request(policy(false, &[]), BROWSER, true))
        .await;
    assert!(matches!(
        closed,
        Err(SendError::BotCheck(BotCheckError::Unavailable(_)))
    ));
    assert!(
        otp.check_bot(&request(policy(true, &[]), BROWSER, true))
            .await
            .is_ok()
    );
    assert_eq!(metrics.count(|e| *e == MetricEvent::BotCheckFailedOpen), 1);
}

#[tokio::test]
async fn a_profile_with_a_check_and_no_checker_is_an_error_not_a_pass() {
    let secret = ServiceSecret::parse("a test secret of at least thirty-two bytes").unwrap();
    let otp = Otp::new(
        MemoryStore::new(),
        crate::adapters::NoDelivery,
        Arc::new(ManualClock::default()),
        Arc::new(OsRandomness),
        Keys::derive(&secret),
        Settings::default(),
    );
    let result = otp
        .check_bot(&request(policy(true, &[]), BROWSER, true))
        .await;
    assert!(matches!(result, Err(SendError::Unexpected(_))));
}

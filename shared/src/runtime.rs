//! Building the service for a Lambda container, once per cold start, from its environment.

use std::sync::Arc;

use anyhow::Context as _;
use aws_config::SdkConfig;

use crate::adapters::aws::{
    self, AwsDelivery, DynamoStore, EmailSettings, SesEmail, SmsSettings, SnsSms,
};
use crate::adapters::siteverify::SiteVerify;
use crate::adapters::{OsRandomness, SystemClock};
use crate::config::{ServiceSecret, Settings, env_var};
use crate::hashing::Keys;
use crate::metrics::EmfMetrics;
use crate::usecases::Otp;

/// The service as a Lambda runs it: codes in DynamoDB, SMS by SNS, email by SES.
pub type LambdaOtp = Otp<DynamoStore, AwsDelivery>;

/// The environment a function reads beyond [`Settings::VARIABLES`]; the README lists the same.
pub const AWS_VARIABLES: &[(&str, &str, &str)] = &[
    ("OTP_TABLE_NAME", "(required)", "the DynamoDB table"),
    (
        "OTP_SECRET_ARN",
        "(none)",
        "Secrets Manager secret (ARN or name) every key derives from; read once per cold start",
    ),
    (
        "OTP_SECRET",
        "(none)",
        "the service secret itself (≥ 32 bytes), when no OTP_SECRET_ARN is given (local use)",
    ),
    (
        "OTP_EMAIL_FROM",
        "(none)",
        "SES-verified address codes are emailed from; email sends fail (502) without it",
    ),
    (
        "OTP_SES_CONFIGURATION_SET",
        "(none)",
        "SES configuration set for sent email",
    ),
    (
        "OTP_SMS_SENDER_ID",
        "(none)",
        "SNS alphanumeric sender ID (1–11 characters)",
    ),
    (
        "OTP_SMS_ORIGINATION_NUMBER",
        "(none)",
        "SNS origination number (E.164)",
    ),
    (
        "OTP_SMS_MAX_PRICE",
        "(none)",
        "SNS maximum price per SMS in USD",
    ),
    (
        "OTP_CAPTCHA_SECRET_ARN",
        "(none)",
        "Secrets Manager secret (ARN or name) holding the bot-check provider's secret key; read once per cold start by the send function, only when a profile has a bot check",
    ),
    (
        "OTP_CAPTCHA_SECRET",
        "(none)",
        "the bot-check provider's secret key itself, when there is no OTP_CAPTCHA_SECRET_ARN",
    ),
    (
        "OTP_CAPTCHA_VERIFY_URL",
        "(none)",
        "tests only: a siteverify URL to ask instead of the provider's (https, or http to a loopback address)",
    ),
];

/// The service for the send function: SMS by SNS, email by SES, and the bot check when a
/// profile has one.
pub async fn send_otp_from_env() -> anyhow::Result<LambdaOtp> {
    let settings = Settings::from_env()?;
    let bot_checks = settings.profiles.use_bot_checks();
    let sdk = aws::sdk_config().await;
    let otp = lambda_otp_from_env(&sdk, settings, aws_delivery).await?;
    if !bot_checks {
        return Ok(otp);
    }
    let bot_check = bot_check_from_env(&sdk)
        .await?
        .context("a profile has a bot check: set OTP_CAPTCHA_SECRET_ARN (or OTP_CAPTCHA_SECRET)")?;
    Ok(otp.with_bot_check(Arc::new(bot_check)))
}

/// The bot check: its secret from Secrets Manager when `OTP_CAPTCHA_SECRET_ARN` is set, else
/// `OTP_CAPTCHA_SECRET`, else `None`.
pub async fn bot_check_from_env(sdk: &SdkConfig) -> anyhow::Result<Option<SiteVerify>> {
    match env_var("OTP_CAPTCHA_SECRET_ARN") {
        Some(arn) => {
            let client = aws_sdk_secretsmanager::Client::new(sdk);
            let secret = aws::captcha_secret_from_secrets_manager(&client, &arn).await?;
            Ok(Some(SiteVerify::with_secret(secret, env_var)?))
        }
        None => SiteVerify::from_lookup(env_var),
    }
}

/// The service for a function that delivers nothing (verify, enroll). It links no SNS or SES client,
/// which keeps its binary and cold start small.
pub async fn verify_otp_from_env() -> anyhow::Result<LambdaOtp> {
    let sdk = aws::sdk_config().await;
    lambda_otp_from_env(&sdk, Settings::from_env_without_sending()?, |_| {
        Ok(AwsDelivery::default())
    })
    .await
}

/// The service for the enroll function: the table and the secret, no delivery.
pub async fn enroll_otp_from_env() -> anyhow::Result<LambdaOtp> {
    verify_otp_from_env().await
}

/// Builds the service from `settings` and the environment: AWS clients (one shared configuration),
/// the service secret and the delivery `delivery` builds.
async fn lambda_otp_from_env(
    sdk: &SdkConfig,
    settings: Settings,
    delivery: impl FnOnce(&SdkConfig) -> anyhow::Result<AwsDelivery>,
) -> anyhow::Result<LambdaOtp> {
    let secret = service_secret(sdk)
        .await?
        .context("set OTP_SECRET_ARN (or OTP_SECRET)")?;
    let table = env_var("OTP_TABLE_NAME").context("OTP_TABLE_NAME is not set")?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table);
    let clock = Arc::new(SystemClock);
    // Metrics go to stdout as EMF records: CloudWatch Logs extracts them, no API call needed.
    let metrics = Arc::new(EmfMetrics::stdout(
        settings.metrics_namespace.clone(),
        clock.clone(),
    ));
    Ok(Otp::new(
        store,
        delivery(sdk)?,
        clock,
        Arc::new(OsRandomness),
        Keys::derive(&secret),
        settings,
    )
    .with_metrics(metrics))
}

/// The service secret: from Secrets Manager when `OTP_SECRET_ARN` is set, else `OTP_SECRET`, else
/// `None`.
pub async fn service_secret(sdk: &SdkConfig) -> anyhow::Result<Option<ServiceSecret>> {
    match env_var("OTP_SECRET_ARN") {
        Some(arn) => {
            let client = aws_sdk_secretsmanager::Client::new(sdk);
            Ok(Some(
                aws::service_secret_from_secrets_manager(&client, &arn).await?,
            ))
        }
        None => Ok(ServiceSecret::from_env()?),
    }
}

/// SNS for SMS, and SES for email when `OTP_EMAIL_FROM` is set.
pub fn aws_delivery(sdk: &SdkConfig) -> anyhow::Result<AwsDelivery> {
    let sms = SnsSms::new(
        aws_sdk_sns::Client::new(sdk),
        SmsSettings::from_lookup(env_var)?,
    );
    let email = if env_var("OTP_EMAIL_FROM").is_some() {
        Some(SesEmail::new(
            aws_sdk_sesv2::Client::new(sdk),
            EmailSettings::from_lookup(env_var)?,
        ))
    } else {
        tracing::warn!("OTP_EMAIL_FROM is not set: email sends will fail");
        None
    };
    Ok(AwsDelivery {
        sms: Some(sms),
        email,
    })
}

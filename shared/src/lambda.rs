//! Building the service for a Lambda container, once per cold start, from its environment.

use std::sync::Arc;

use anyhow::Context as _;
use aws_config::SdkConfig;

use crate::adapters::EmfMetrics;
use crate::adapters::aws::{
    self, AwsDelivery, DynamoStore, EmailSettings, SesEmail, SmsProvider, SmsSettings, SmsVoice,
    SmsVoiceSettings, SnsSms,
};
use crate::adapters::siteverify::SiteVerify;
use crate::adapters::{OsRandomness, SystemClock};
use crate::config::{ConfigError, Settings, env_var};
use crate::crypto::{KeySecrets, Keys, SecretNeed, ServiceSecret};
use crate::usecases::Otp;

/// The service as a Lambda runs it: codes in DynamoDB, SMS by SNS, email by SES.
pub type LambdaOtp = Otp<DynamoStore, AwsDelivery>;

/// The environment a function reads beyond [`Settings::VARIABLES`]; docs/configuration.md lists the same.
pub const AWS_VARIABLES: &[(&str, &str, &str)] = &[
    (
        "OTP_TABLE_NAME",
        "(required)",
        "the DynamoDB table (Lambdas; otp-local `--store dynamodb`, where it defaults to `otp-local`)",
    ),
    (
        "OTP_CODE_SECRET_ARN",
        "(none)",
        "Secrets Manager secret (ARN or name) of code hashes, destination pseudonyms and sealing (HKDF-SHA256); send and verify read it once per cold start (the SAM template sets it)",
    ),
    (
        "OTP_PROOF_SECRET_ARN",
        "(none)",
        "Secrets Manager secret the proof-signing keys derive from: verify alone reads it",
    ),
    (
        "OTP_TOTP_SECRET_ARN",
        "(none)",
        "Secrets Manager secret of authenticator secrets at rest, recovery codes and challenges: enroll and verify read it",
    ),
    (
        "OTP_SECRET_ARN",
        "(none)",
        "one Secrets Manager secret for all three (a stack from before the split); each function still keeps only the keys it needs",
    ),
    (
        "OTP_SECRET",
        "(none)",
        "one secret for all three itself (≥ 32 bytes), when no secret ARN is given; otp-local without it makes an ephemeral key",
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
        "SNS alphanumeric sender ID (1–11 characters) where the destination country supports it",
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
        "OTP_SMS_PROVIDER",
        "sns",
        "which service texts codes: `sns` (SNS `Publish`), or `end-user-messaging` (End User Messaging SMS and Voice v2 `SendTextMessage` from `OTP_EUM_ORIGINATION_IDENTITY`, with its configuration set, protect configuration and \"code entered\" feedback)",
    ),
    (
        "OTP_EUM_ORIGINATION_IDENTITY",
        "(none)",
        "the End User Messaging phone number, pool or sender id (its id or ARN) calls come from, and texts too with `OTP_SMS_PROVIDER=end-user-messaging`; calls fail (502) without it",
    ),
    (
        "OTP_EUM_CONFIGURATION_SET",
        "(none)",
        "End User Messaging configuration set of calls and texts: its event destinations receive delivery events (the SAM template creates one)",
    ),
    (
        "OTP_EUM_PROTECT_CONFIGURATION_ID",
        "(none)",
        "End User Messaging protect configuration texts are checked against",
    ),
    (
        "OTP_VOICE_MAX_PRICE_PER_MINUTE",
        "(none)",
        "End User Messaging's maximum price per minute of a call, in USD; `OTP_SMS_MAX_PRICE` is a text's",
    ),
    (
        "OTP_CAPTCHA_SECRET_ARN",
        "(none)",
        "Secrets Manager secret (ARN or name) holding the bot check's provider secret key; read once per cold start by the send function, only when a profile has a `bot_check` (the template's `CaptchaSecretArn` sets it)",
    ),
    (
        "OTP_CAPTCHA_SECRET",
        "(none)",
        "the bot-check provider's secret key itself, when there is no `OTP_CAPTCHA_SECRET_ARN` (otp-local, tests)",
    ),
    (
        "OTP_CAPTCHA_VERIFY_URL",
        "(none)",
        "tests only, never in production: a `siteverify` URL asked instead of the provider's; `https://`, or `http://` to a loopback address only",
    ),
];

/// The secrets each function reads, and so the keys it holds: send hashes codes and seals
/// destinations; verify also signs proofs and checks authenticator codes; enroll only seals
/// authenticator secrets.
pub const SEND_NEEDS: &[SecretNeed] = &[SecretNeed::Codes];
pub const VERIFY_NEEDS: &[SecretNeed] = &[SecretNeed::Codes, SecretNeed::Proofs, SecretNeed::Totp];
pub const ENROLL_NEEDS: &[SecretNeed] = &[SecretNeed::Totp];

/// The service for the send function: SMS by SNS, email by SES, and the bot check when a
/// profile has one.
pub async fn send_otp_from_env() -> anyhow::Result<LambdaOtp> {
    let settings = Settings::from_env()?;
    let bot_checks = settings.profiles.use_bot_checks();
    let sdk = aws::sdk_config().await;
    let otp = lambda_otp_from_env(&sdk, settings, SEND_NEEDS, aws_delivery).await?;
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

/// The service for the verify function. It delivers nothing, so it links no SNS or SES client,
/// which keeps its binary and cold start small: only End User Messaging's `PutMessageFeedback`.
pub async fn verify_otp_from_env() -> anyhow::Result<LambdaOtp> {
    let sdk = aws::sdk_config().await;
    lambda_otp_from_env(
        &sdk,
        Settings::from_env_without_sending()?,
        VERIFY_NEEDS,
        feedback_delivery,
    )
    .await
}

/// The service for the enroll function: the table and the TOTP secret, no delivery.
pub async fn enroll_otp_from_env() -> anyhow::Result<LambdaOtp> {
    let sdk = aws::sdk_config().await;
    lambda_otp_from_env(
        &sdk,
        Settings::from_env_without_sending()?,
        ENROLL_NEEDS,
        |_| Ok(AwsDelivery::default()),
    )
    .await
}

/// Builds the service from `settings` and the environment: AWS clients (one shared configuration),
/// the keys of the secrets in `needs` and the delivery `delivery` builds.
async fn lambda_otp_from_env(
    sdk: &SdkConfig,
    settings: Settings,
    needs: &[SecretNeed],
    delivery: impl FnOnce(&SdkConfig) -> anyhow::Result<AwsDelivery>,
) -> anyhow::Result<LambdaOtp> {
    let keys = keys_from_env(sdk, needs).await?;
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
        keys,
        settings,
    )
    .with_metrics(metrics))
}

/// The keys of the secrets in `needs`, and no others: each from its own secret
/// (`OTP_CODE_SECRET_ARN`, `OTP_PROOF_SECRET_ARN`, `OTP_TOTP_SECRET_ARN`, read at once), or all from
/// the one secret of [`service_secret`] when that is set.
pub async fn keys_from_env(sdk: &SdkConfig, needs: &[SecretNeed]) -> anyhow::Result<Keys> {
    if let Some(secret) = service_secret(sdk).await? {
        return Ok(keys_of_one_secret(&secret, needs));
    }
    keys_from_secrets_manager(&aws_sdk_secretsmanager::Client::new(sdk), needs, env_var).await
}

/// The keys of `needs` from one secret.
pub fn keys_of_one_secret(secret: &ServiceSecret, needs: &[SecretNeed]) -> Keys {
    let needed = |need| needs.contains(&need);
    Keys::from_secrets(KeySecrets {
        codes: Some(secret).filter(|_| needed(SecretNeed::Codes)),
        proofs: Some(secret).filter(|_| needed(SecretNeed::Proofs)),
        totp: Some(secret).filter(|_| needed(SecretNeed::Totp)),
    })
}

/// The keys of `needs`, each from the Secrets Manager secret its variable (read by `lookup`) names.
pub async fn keys_from_secrets_manager(
    client: &aws_sdk_secretsmanager::Client,
    needs: &[SecretNeed],
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Keys> {
    let needed = |need| needs.contains(&need);
    let read = |need: SecretNeed, variable: &'static str| {
        let arn = lookup(variable);
        async move {
            if !needed(need) {
                return Ok(None);
            }
            let arn =
                arn.with_context(|| format!("set {variable} (or OTP_SECRET_ARN for one secret)"))?;
            aws::service_secret_from_secrets_manager(client, &arn)
                .await
                .with_context(|| format!("reading {variable}"))
                .map(Some)
        }
    };
    let (codes, proofs, totp) = tokio::join!(
        read(SecretNeed::Codes, "OTP_CODE_SECRET_ARN"),
        read(SecretNeed::Proofs, "OTP_PROOF_SECRET_ARN"),
        read(SecretNeed::Totp, "OTP_TOTP_SECRET_ARN"),
    );
    let (codes, proofs, totp) = (codes?, proofs?, totp?);
    Ok(Keys::from_secrets(KeySecrets {
        codes: codes.as_ref(),
        proofs: proofs.as_ref(),
        totp: totp.as_ref(),
    }))
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
        None => Ok(crate::config::service_secret_from_env()?),
    }
}

/// SMS by SNS (or End User Messaging with `OTP_SMS_PROVIDER=end-user-messaging`), email by SES when
/// `OTP_EMAIL_FROM` is set, calls by End User Messaging when `OTP_EUM_ORIGINATION_IDENTITY` is.
pub fn aws_delivery(sdk: &SdkConfig) -> anyhow::Result<AwsDelivery> {
    let eum = SmsVoiceSettings::from_lookup(env_var)?
        .map(|settings| SmsVoice::new(aws_sdk_pinpointsmsvoicev2::Client::new(sdk), settings));
    let sms = match env_var("OTP_SMS_PROVIDER").as_deref().map(str::trim) {
        None | Some("sns") => SmsProvider::Sns(SnsSms::new(
            aws_sdk_sns::Client::new(sdk),
            SmsSettings::from_lookup(env_var)?,
        )),
        Some("end-user-messaging") => {
            SmsProvider::EndUserMessaging(eum.clone().ok_or(ConfigError {
                variable: "OTP_SMS_PROVIDER",
                detail: "end-user-messaging needs OTP_EUM_ORIGINATION_IDENTITY".into(),
            })?)
        }
        Some(_) => {
            return Err(ConfigError {
                variable: "OTP_SMS_PROVIDER",
                detail: "must be sns or end-user-messaging".into(),
            }
            .into());
        }
    };
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
        voice: eum,
        feedback: None,
    })
}

/// What the verify function delivers: nothing, but an approval of a code End User Messaging
/// carried tells it so (`PutMessageFeedback`).
pub fn feedback_delivery(sdk: &SdkConfig) -> anyhow::Result<AwsDelivery> {
    Ok(AwsDelivery {
        feedback: Some(aws_sdk_pinpointsmsvoicev2::Client::new(sdk)),
        ..AwsDelivery::default()
    })
}

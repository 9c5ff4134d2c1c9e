//! Secrets from AWS Secrets Manager, read once per cold start: the service secret, and the bot
//! check's when a profile has one.

use anyhow::{Context as _, anyhow};
use zeroize::Zeroizing;

use crate::adapters::siteverify::CaptchaSecret;
use crate::crypto::ServiceSecret;

/// Reads the secret `secret_id` (an ARN or name): its string value, or its binary value as bytes
/// taken to be text. Every key of the service derives from it with HKDF.
pub async fn service_secret_from_secrets_manager(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> anyhow::Result<ServiceSecret> {
    let value = secret_value(client, secret_id, "the service secret").await?;
    ServiceSecret::parse(value.trim()).map_err(|e| anyhow!("the service secret {e}"))
}

/// Reads the bot-check provider's secret key from the secret `secret_id` (an ARN or name).
pub async fn captcha_secret_from_secrets_manager(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> anyhow::Result<CaptchaSecret> {
    let value = secret_value(client, secret_id, "the bot-check secret").await?;
    CaptchaSecret::parse(&value).map_err(|e| anyhow!("the bot-check secret {}", e.detail))
}

async fn secret_value(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    what: &str,
) -> anyhow::Result<Zeroizing<String>> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .with_context(|| format!("reading {what} from Secrets Manager"))?;
    Ok(Zeroizing::new(
        match (output.secret_string(), output.secret_binary()) {
            (Some(text), _) => text.to_owned(),
            (None, Some(blob)) => String::from_utf8(blob.as_ref().to_vec())
                .map_err(|_| anyhow!("{what}'s binary value is not UTF-8"))?,
            (None, None) => return Err(anyhow!("{what} has no value")),
        },
    ))
}

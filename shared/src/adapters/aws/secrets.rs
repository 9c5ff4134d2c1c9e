//! The service secret from AWS Secrets Manager, read once per cold start.

use anyhow::{Context as _, anyhow};

use crate::config::ServiceSecret;

/// Reads the secret `secret_id` (an ARN or name): its string value, or its binary value as bytes
/// taken to be text. Every key of the service derives from it with HKDF.
pub async fn service_secret_from_secrets_manager(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> anyhow::Result<ServiceSecret> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .context("reading the service secret from Secrets Manager")?;
    let value = match (output.secret_string(), output.secret_binary()) {
        (Some(text), _) => text.to_owned(),
        (None, Some(blob)) => String::from_utf8(blob.as_ref().to_vec())
            .map_err(|_| anyhow!("the service secret's binary value is not UTF-8"))?,
        (None, None) => return Err(anyhow!("the service secret has no value")),
    };
    ServiceSecret::parse(value.trim()).map_err(|e| anyhow!("the service secret {}", e.detail))
}

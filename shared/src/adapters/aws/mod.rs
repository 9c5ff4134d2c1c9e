//! The AWS adapters: the DynamoDB store, SNS, SES and End User Messaging delivery, and the Secrets
//! Manager secrets.
//!
//! Clients are built from aws-config's standard chain, so `AWS_REGION`, the credentials variables and
//! `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (an emulator, in tests) apply with no code of ours.

mod delivery;
mod dynamodb;
mod notifier;
mod sdk;
mod secrets;
mod sms_voice;

pub use delivery::{EmailSettings, SesEmail, SmsSettings, SnsSms};
pub use dynamodb::{DynamoStore, create_table_if_missing};
pub use notifier::{AwsDelivery, SmsProvider};
pub use sdk::{configured, sdk_config};
pub use secrets::{captcha_secret_from_secrets_manager, service_secret_from_secrets_manager};
pub use sms_voice::{SmsVoice, SmsVoiceSettings};

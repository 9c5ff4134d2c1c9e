//! The bot check before a public send: when the send's profile has one, the browser's
//! `captcha_token` must pass the provider's `siteverify` before anything is claimed, stored or
//! sent. The app's backend (a server send) is trusted and never checked.

use anyhow::anyhow;

use super::{BotCheckError, Otp, Requester, SendError, SendRequest};
use crate::metrics::MetricEvent;

impl<S, N> Otp<S, N> {
    /// Passes a send whose profile has no bot check, a server send, and a public send whose token
    /// the provider accepts (solved on one of the profile's host names, when it lists any). A
    /// provider that gives no verdict refuses the send, unless the profile fails open.
    pub(super) async fn check_bot(&self, request: &SendRequest) -> Result<(), SendError> {
        let (Some(policy), Requester::Browser(remote_ip)) =
            (&request.profile.bot_check, &request.requester)
        else {
            return Ok(());
        };
        let refuse = || {
            let error = SendError::BotCheck(BotCheckError::Failed);
            if let Some(reason) = error.refusal_reason() {
                self.metrics.record(&MetricEvent::SendRefused { reason });
            }
            Err(error)
        };
        let Some(token) = &request.captcha_token else {
            tracing::info!("refused: no captcha_token for a profile with a bot check");
            return refuse();
        };
        let Some(bot_check) = &self.bot_check else {
            return Err(SendError::Unexpected(anyhow!(
                "the profile `{}` has a bot check, but no bot-check secret is configured",
                request.profile.name
            )));
        };
        let provider = policy.provider.as_str();
        match bot_check.verify(policy.provider, token, *remote_ip).await {
            Ok(verdict) if !verdict.success => {
                tracing::info!(provider, error_codes = ?verdict.error_codes, "refused: the bot check failed");
                refuse()
            }
            Ok(verdict)
                if !policy.hostnames.is_empty()
                    && !verdict.hostname.as_ref().is_some_and(|host| {
                        policy.hostnames.contains(&host.to_ascii_lowercase())
                    }) =>
            {
                tracing::info!(
                    provider,
                    hostname = verdict.hostname.as_deref(),
                    "refused: the token was solved on a host the profile does not list"
                );
                refuse()
            }
            Ok(_) => Ok(()),
            Err(unavailable) if policy.fail_open => {
                tracing::warn!(provider, error = ?unavailable.0, "the bot-check provider gave no verdict; the profile fails open, so the send goes ahead unchecked");
                self.metrics.record(&MetricEvent::BotCheckFailedOpen);
                Ok(())
            }
            Err(unavailable) => Err(SendError::BotCheck(BotCheckError::Unavailable(unavailable))),
        }
    }
}

#[cfg(test)]
#[path = "bot_check_tests.rs"]
mod tests;

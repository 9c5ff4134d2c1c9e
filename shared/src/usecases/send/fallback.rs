//! The fallback: an SMS refused by an SMS rule or a quota, or failing at the provider, goes to the
//! request's fallback email address instead, when it names one, or, when the profile says
//! `"fallback": "voice"`, becomes a call to the same number.

use super::{FallbackReason, SendError, SendReceipt, SendRequest};
use crate::domain::Destination;
use crate::metrics::MetricEvent;
use crate::ports::{ChallengeStore, Notifier};
use crate::profiles::FallbackPolicy;
use crate::usecases::otp::Otp;

impl<S: ChallengeStore, N: Notifier> Otp<S, N> {
    /// Sends to the request's destination; when an SMS is refused or fails for a reason that
    /// allows it, and the request names a fallback address, sends there instead.
    pub(super) async fn send_with_fallback(
        &self,
        request: &SendRequest,
    ) -> Result<SendReceipt, SendError> {
        let first = self
            .send_to(request, &request.destination, true, false)
            .await;
        self.count_refusal(&first);
        let Err(refusal) = &first else {
            return first;
        };
        let Some(reason) = refusal.fallback_reason() else {
            return first;
        };
        let destination = match (&request.fallback, &request.destination) {
            (Some(email), _) => Destination::Email(email.clone()),
            // The day's budget pays for calls too: a call would be refused for the same reason.
            (None, Destination::Sms(number))
                if request.profile.fallback == FallbackPolicy::Voice
                    && reason != FallbackReason::BudgetExhausted =>
            {
                Destination::Voice(number.clone())
            }
            _ => return first,
        };
        self.metrics.record(&MetricEvent::FallbackUsed {
            reason: reason.as_str(),
        });
        tracing::info!(
            reason = reason.as_str(),
            fallback = %destination.channel(),
            fallback_to = %destination.masked(),
            "SMS refused; sending another way instead"
        );
        // A failed SMS was charged to the client's quota already; a refused one was not. And it
        // was recorded against its number, whose cooldown must not refuse the call that replaces it.
        let failed = reason == FallbackReason::DeliveryFailed;
        let same_number = destination.recipient() == request.destination.recipient();
        let second = self
            .send_to(request, &destination, !failed, failed && same_number)
            .await;
        self.count_refusal(&second);
        let mut receipt = second?;
        receipt.fell_back = Some(reason);
        Ok(receipt)
    }

    fn count_refusal(&self, result: &Result<SendReceipt, SendError>) {
        if let Some(reason) = result.as_ref().err().and_then(SendError::refusal_reason) {
            self.metrics.record(&MetricEvent::SendRefused { reason });
        }
    }
}

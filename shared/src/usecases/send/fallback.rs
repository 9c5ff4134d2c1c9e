//! The fallback: an SMS refused by an SMS rule or a quota, or failing at the provider, goes to the
//! request's fallback email address instead, when it names one.

use super::{FallbackReason, SendError, SendReceipt, SendRequest};
use crate::domain::Destination;
use crate::metrics::MetricEvent;
use crate::ports::{ChallengeStore, Notifier};
use crate::usecases::otp::Otp;

impl<S: ChallengeStore, N: Notifier> Otp<S, N> {
    /// Sends to the request's destination; when an SMS is refused or fails for a reason that
    /// allows it, and the request names a fallback address, sends there instead.
    pub(super) async fn send_with_fallback(
        &self,
        request: &SendRequest,
    ) -> Result<SendReceipt, SendError> {
        let first = self.send_to(request, &request.destination, true).await;
        self.count_refusal(&first);
        let (Err(refusal), Some(fallback)) = (&first, &request.fallback) else {
            return first;
        };
        let Some(reason) = refusal.fallback_reason() else {
            return first;
        };
        self.metrics.record(&MetricEvent::FallbackUsed {
            reason: reason.as_str(),
        });
        tracing::info!(
            reason = reason.as_str(),
            fallback_to = %fallback.masked(),
            "SMS refused; sending by email instead"
        );
        // A failed SMS was charged to the client's quota already; a refused one was not.
        let charge_client = reason != FallbackReason::DeliveryFailed;
        let destination = Destination::Email(fallback.clone());
        let second = self.send_to(request, &destination, charge_client).await;
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

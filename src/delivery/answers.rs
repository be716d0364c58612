//! What an answer from Genesys means for an event (SPEC §5), whichever the target: its outcome
//! (delivered, dead-lettered, or retried and when) and whether it tells `recovery` the tenant
//! answered. One request per head (`per_event`) and batched requests (`batched`) both judge
//! their answers here.

use super::Lane;
use super::store::OutcomeKind;
use super::worker::Worker;
use crate::delivery::metrics::DELIVERY;
use crate::genesys::{ApiResponse, RetryCause, TransportError, Verdict, after, backoff};

impl Worker {
    /// Tells `recovery` whether the tenant answered (once per request, whatever it carried).
    pub(super) fn note_answer(&self, verdict: &Verdict) {
        match verdict {
            Verdict::Done | Verdict::Reject => {
                self.recovery.answered();
            }
            Verdict::Backoff(
                RetryCause::ServerError | RetryCause::Timeout | RetryCause::Connection,
            ) => self.recovery.failed(),
            Verdict::RetryAfter(_) | Verdict::Backoff(_) => {}
        }
    }

    /// SPEC §5 for one event: `verdict` of the answer `result` (whose status and body a dead
    /// letter keeps) after `prior_failures` consecutive failures of its contact.
    pub(super) fn outcome_kind(
        &self,
        lane: Lane,
        event_id: uuid::Uuid,
        verdict: &Verdict,
        result: &Result<ApiResponse, TransportError>,
        prior_failures: i32,
    ) -> OutcomeKind {
        let now = self.state.clock.now();
        match verdict {
            Verdict::Done => {
                DELIVERY.delivered(lane);
                OutcomeKind::Delivered
            }
            Verdict::Reject => {
                let (status, body) = result
                    .as_ref()
                    .map(|r| (r.status as i32, r.body.clone()))
                    .unwrap_or((0, String::new()));
                tracing::warn!(%event_id, status, "Genesys refused an event; dead-lettered");
                DELIVERY.dead_letter();
                OutcomeKind::DeadLetter { status, body }
            }
            Verdict::RetryAfter(wait) => {
                DELIVERY.retry(RetryCause::RateLimited);
                OutcomeKind::Retry {
                    at: after(now, *wait),
                    failures: prior_failures.saturating_add(1),
                }
            }
            Verdict::Backoff(cause) => {
                DELIVERY.retry(*cause);
                let failures = prior_failures.saturating_add(1);
                let wait = backoff(failures.max(1) as u32);
                let detail = match result {
                    Ok(r) => format!("HTTP {}", r.status),
                    Err(e) => e.to_string(),
                };
                tracing::debug!(%event_id, cause = cause.as_str(), %detail, failures, ?wait, "delivery will be retried");
                OutcomeKind::Retry {
                    at: after(now, wait),
                    failures,
                }
            }
        }
    }
}

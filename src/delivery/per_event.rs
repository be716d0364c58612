//! The worker's side of the PE target (SPEC §5, the default): each ready head goes out as a
//! request of its own, and its answer is judged alone (`answers`). The External Events target
//! batches them instead (`batched`).

use chrono::Duration;

use super::Lane;
use super::store::{self, Head, Outcome, OutcomeKind};
use super::worker::{Worker, is_late};
use crate::delivery::metrics::DELIVERY;
use crate::genesys::{ApiResponse, TransportError, verdict};

impl Worker {
    /// The outcome of `head` sent alone, as PE takes events; `prior_failures` are its contact's
    /// consecutive failures so far.
    pub(super) async fn deliver(
        &self,
        lane: Lane,
        head: Head,
        prior_failures: i32,
        skew: Duration,
    ) -> Outcome {
        let mut outcome = Outcome::of(&head, OutcomeKind::Skipped);
        if lane == Lane::Realtime && is_late(&head, skew) {
            DELIVERY.late_arrival();
            outcome.kind = OutcomeKind::Late;
            return outcome;
        }
        if lane == Lane::Backfill {
            // Yield to real-time work that became ready since this round began.
            match store::realtime_ready(&self.state.pool, self.state.clock.now()).await {
                Ok(false) => {}
                _ => return outcome,
            }
        }
        let body = crate::normalize::pe_body(
            &head.contact_id,
            &head.event_type,
            head.event_timestamp,
            &head.attributes,
        );
        let send = self.client.post_event(head.request_id, &body);
        let Some(result) = self.unless_stopping(send).await else {
            // Shutting down: released untouched (`Skipped`), sent again after the restart.
            return outcome;
        };
        outcome.kind = self.judge(lane, &head, result, prior_failures);
        outcome
    }

    /// What an answer means for the event: delivered, dead-lettered or retried (and when); it also
    /// tells `recovery` whether the tenant answered.
    fn judge(
        &self,
        lane: Lane,
        head: &Head,
        result: Result<ApiResponse, TransportError>,
        prior_failures: i32,
    ) -> OutcomeKind {
        let verdict = verdict(&result);
        self.note_answer(&verdict);
        self.outcome_kind(lane, head.id, &verdict, &result, prior_failures)
    }
}

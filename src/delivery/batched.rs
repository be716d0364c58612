//! The worker's side of the External Events target (issue 10 §3): a round's ready heads go out
//! as batched requests (`external::plan`), sent concurrently, each one rate permit; each answer is
//! read entity by entity (`external::read_answer`) into the same outcomes as one request per head,
//! so the barrier, backoff, dead letters and recording are SPEC §5's, unchanged.
//!
//! Until `pesync genesys setup` has run against this org, the heads are released untouched to look
//! again later: nothing is sent, lost or dead-lettered for it, and the log says why once a minute.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::Duration;
use futures_util::StreamExt;

use super::Lane;
use super::external::{self, Answer, Request};
use super::store::{self, Head, Outcome, OutcomeKind};
use super::worker::{Worker, is_late};
use crate::delivery::metrics::DELIVERY;
use crate::genesys::{ApiResponse, TransportError, Verdict, org};

/// How long a contact waits before its head is looked at again while the org is not set up (or
/// its event type has no configuration): setup is a person's job, so no hot loop meanwhile.
pub const SETUP_WAIT: Duration = Duration::seconds(30);
/// How long a contact waits after its configuration answered 404 (deleted in the org).
pub const GONE_WAIT: Duration = Duration::seconds(60);

impl Worker {
    /// The outcomes of `heads` (one per contact, out of their ordering hold) sent in batches;
    /// `failures` gives a contact's consecutive failures so far.
    pub(super) async fn deliver_batched(
        &self,
        lane: Lane,
        heads: Vec<Head>,
        failures: &(dyn Fn(&str) -> i32 + Sync),
        skew: Duration,
    ) -> anyhow::Result<Vec<Outcome>> {
        // Close enough to the claim (made just before the heads were read) for the lease's sake.
        let claimed_at = Instant::now();
        let mut outcomes = Vec::new();
        // A late arrival is not sent on the real-time lane, whatever the target.
        let (late, heads): (Vec<Head>, Vec<Head>) = heads
            .into_iter()
            .partition(|h| lane == Lane::Realtime && is_late(h, skew));
        for head in &late {
            DELIVERY.late_arrival();
            outcomes.push(Outcome::of(head, OutcomeKind::Late));
        }
        if heads.is_empty() {
            return Ok(outcomes);
        }
        let now = self.state.clock.now();
        let wait_for_setup = OutcomeKind::Wait {
            until: now + SETUP_WAIT,
        };
        let stored = org::load(&mut *self.state.pool.acquire().await?).await?;
        let org = match org::readiness(stored.as_ref(), &self.client.config().base_url) {
            Ok(org) => org,
            Err(why) => {
                if self.notices.due("not_set_up", Instant::now()) {
                    tracing::warn!(contacts = heads.len(), "{}", why.note());
                }
                let waiting = heads.iter().map(|h| Outcome::of(h, wait_for_setup.clone()));
                outcomes.extend(waiting);
                return Ok(outcomes);
            }
        };
        let plan = external::plan(heads, org, self.client.config().events_batch);
        if !plan.unconfigured.is_empty() && self.notices.due("unconfigured", Instant::now()) {
            let types: BTreeSet<&str> = plan
                .unconfigured
                .iter()
                .map(|h| h.event_type.as_str())
                .collect();
            tracing::warn!(
                event_types = ?types,
                "these event types have no events configuration in the org: their events stay \
                 queued until `pesync genesys setup` has run"
            );
        }
        let unconfigured = plan.unconfigured.iter();
        outcomes.extend(unconfigured.map(|h| Outcome::of(h, wait_for_setup.clone())));
        let repeated = plan.repeated.iter();
        outcomes.extend(repeated.map(|h| Outcome::of(h, OutcomeKind::Skipped)));
        for item in &plan.oversized {
            tracing::warn!(event_id = %item.head.id, bytes = item.bytes,
                "an event alone is over the External Events request limit; dead-lettered unsent");
            DELIVERY.dead_letter();
            let kind = OutcomeKind::DeadLetter {
                status: 413,
                body: external::oversized_body(item.bytes),
            };
            outcomes.push(Outcome::of(&item.head, kind));
        }
        let start_by = start_by(claimed_at, self.cfg.lease);
        let sent: Vec<Vec<Outcome>> = futures_util::stream::iter(plan.requests)
            .map(|request| self.send_request(lane, request, failures, start_by))
            .buffer_unordered(self.cfg.concurrency)
            .collect()
            .await;
        outcomes.extend(sent.into_iter().flatten());
        Ok(outcomes)
    }

    /// Sends one request (and, after a 413, its halves) and reads what became of each entity.
    /// A request still without a rate permit at `start_by` is not sent (see `start_by`).
    async fn send_request(
        &self,
        lane: Lane,
        request: Request,
        failures: &(dyn Fn(&str) -> i32 + Sync),
        start_by: Instant,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(request.items.len());
        let mut queue = vec![request];
        while let Some(request) = queue.pop() {
            // Backfill yields to real-time work that became ready since this round began.
            if lane == Lane::Backfill && self.realtime_waiting().await {
                untouched(&request, &mut outcomes);
                continue;
            }
            let body = request.body();
            let send = self
                .client
                .post_external_events(&request.configuration_id, &body, start_by);
            let result = match self.unless_stopping(send).await {
                // Shutting down, or too late to start: released untouched, sent later (same ids).
                None | Some(Err(TransportError::NotStarted)) => {
                    untouched(&request, &mut outcomes);
                    continue;
                }
                Some(result) => result,
            };
            let answered = Answered {
                lane,
                result: &result,
                failures,
            };
            let answer = external::read_answer(&result, &request.ids());
            if let Some((first, second)) = self.settle(&answered, request, answer, &mut outcomes) {
                queue.push(second);
                queue.push(first);
            }
        }
        outcomes
    }

    /// Whether real-time work is ready (or that cannot be known): backfill then waits.
    async fn realtime_waiting(&self) -> bool {
        let now = self.state.clock.now();
        !matches!(
            store::realtime_ready(&self.state.pool, now).await,
            Ok(false)
        )
    }

    /// The outcomes of one request's answer; a request too large to be taken comes back halved,
    /// to be sent again as two.
    fn settle(
        &self,
        answered: &Answered<'_>,
        request: Request,
        answer: Answer,
        outcomes: &mut Vec<Outcome>,
    ) -> Option<(Request, Request)> {
        match answer {
            Answer::Entities(entries) => {
                self.note_answer(&Verdict::Done);
                for (item, entry) in request.items.iter().zip(entries) {
                    let kind = match entry {
                        None => self.kind_of(answered, item, &Verdict::Done, answered.result),
                        Some(u) => {
                            // The entry stands for the entity's own answer.
                            let own = Ok(ApiResponse {
                                status: u.status,
                                body: u.entry,
                                retry_after: None,
                            });
                            self.kind_of(answered, item, &u.verdict, &own)
                        }
                    };
                    outcomes.push(Outcome::of(&item.head, kind));
                }
            }
            Answer::TooLarge => {
                self.note_answer(&Verdict::Reject);
                match request.halves() {
                    Ok(halves) => return Some(halves),
                    Err(alone) => {
                        for item in &alone.items {
                            let kind =
                                self.kind_of(answered, item, &Verdict::Reject, answered.result);
                            outcomes.push(Outcome::of(&item.head, kind));
                        }
                    }
                }
            }
            Answer::ConfigurationGone => {
                self.note_answer(&Verdict::Reject);
                self.configuration_gone(&request, outcomes);
            }
            Answer::Whole(verdict) => {
                self.note_answer(&verdict);
                let kinds = request
                    .items
                    .iter()
                    .map(|item| self.kind_of(answered, item, &verdict, answered.result));
                let kinds = together(kinds.collect());
                let both = request.items.iter().zip(kinds);
                outcomes.extend(both.map(|(item, kind)| Outcome::of(&item.head, kind)));
            }
        }
        None
    }

    fn kind_of(
        &self,
        answered: &Answered<'_>,
        item: &external::Item,
        verdict: &Verdict,
        result: &Result<ApiResponse, TransportError>,
    ) -> OutcomeKind {
        let prior = (answered.failures)(&item.head.contact_id);
        self.outcome_kind(answered.lane, item.head.id, verdict, result, prior)
    }

    /// A 404 for the events configuration: its events stay queued until setup runs again.
    fn configuration_gone(&self, request: &Request, outcomes: &mut Vec<Outcome>) {
        if self.notices.due("configuration_gone", Instant::now()) {
            tracing::warn!(
                configuration_id = %request.configuration_id,
                "Genesys answered 404 for an events configuration (deleted, or another \
                 org's): its events stay queued; run `pesync genesys setup`"
            );
        }
        let until = self.state.clock.now() + GONE_WAIT;
        let waiting = request.items.iter();
        outcomes.extend(waiting.map(|i| Outcome::of(&i.head, OutcomeKind::Wait { until })));
    }
}

/// What a request's answer is read with: its lane, Genesys's answer, each contact's failures so far.
struct Answered<'a> {
    lane: Lane,
    result: &'a Result<ApiResponse, TransportError>,
    failures: &'a (dyn Fn(&str) -> i32 + Sync),
}

/// A request released unsent: each of its events is retried later, with the same ids.
fn untouched(request: &Request, outcomes: &mut Vec<Outcome>) {
    let skipped = request.items.iter();
    outcomes.extend(skipped.map(|i| Outcome::of(&i.head, OutcomeKind::Skipped)));
}

/// The latest instant a request of a claim made at `claimed_at` may start: half its lease. A
/// request waiting longer for a rate permit (behind a 429's pause, say) is released untouched
/// rather than sent once the lease could have run out and another worker claimed the same heads:
/// Genesys does not deduplicate entities, so two workers must never send the same one. The other
/// half leaves room for the request itself and the recording of its answer.
fn start_by(claimed_at: Instant, lease: Duration) -> Instant {
    claimed_at + lease.to_std().unwrap_or_default() / 2
}

/// The retries of one request's contacts all at the instant drawn for the most-failed of them
/// (each keeps its own failure count): a whole-request failure then costs one request again, not
/// one per contact, as independent jitter would scatter them. Jitter still spreads requests.
fn together(mut kinds: Vec<OutcomeKind>) -> Vec<OutcomeKind> {
    let shared = kinds
        .iter()
        .filter_map(|k| match k {
            OutcomeKind::Retry { at, failures } => Some((*failures, *at)),
            _ => None,
        })
        .max_by_key(|(failures, _)| *failures)
        .map(|(_, at)| at);
    if let Some(shared) = shared {
        for kind in &mut kinds {
            if let OutcomeKind::Retry { at, .. } = kind {
                *at = shared;
            }
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_request_retries_together_at_its_most_failed_contact_s_instant() {
        let at = |s: i64| Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap();
        let retry = |s, failures| OutcomeKind::Retry {
            at: at(s),
            failures,
        };
        let kinds = together(vec![retry(3, 1), retry(40, 5), retry(1, 2)]);
        let got: Vec<_> = kinds
            .iter()
            .map(|k| match k {
                OutcomeKind::Retry { at, failures } => (*at, *failures),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, [(at(40), 1), (at(40), 5), (at(40), 2)]);
        let kinds = together(vec![OutcomeKind::Delivered, OutcomeKind::Skipped]);
        assert!(matches!(
            kinds[..],
            [OutcomeKind::Delivered, OutcomeKind::Skipped]
        ));
    }
}

//! The delivery worker (SPEC §5): claims contacts, sends each one's head event, records the outcome.
//!
//! Order: only the lease holder touches a contact, and a contact's next event is sent only after the
//! previous one is delivered or dead-lettered (a retrying one keeps the contact waiting: the barrier).
//! Lanes: the real-time lane is served first; the backfill lane is claimed only when no real-time
//! work is ready anywhere in the cluster, in small batches, so it uses only the budget left over.
//! Crash safety: the event is marked delivered only after PE answered; a crash in between lets the
//! lease expire and the event is resent with the same `X-Request-Id`, which PE deduplicates.
//! Targets: one request per head to PE (`per_event`, SPEC §5, the default), or the heads of a round
//! batched into External Events requests (`batched`, issue 10 §3); everything before the send and
//! after the answer (claims, holds, the barrier, what an answer means: `answers`, the outcomes
//! recorded: `store::outcomes`) is the same for both.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::Lane;
use super::notices::Notices;
use super::recovery::Recovery;
use super::store::{self, Claimed, Head, Outcome};
use crate::genesys::{EventsTarget, GenesysClient};
use crate::platform::context::AppState;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long a claimed contact stays with this worker if it never reports back (a crash).
    pub lease: Duration,
    /// Most real-time contacts handled per round.
    pub realtime_batch: i64,
    /// Most backfill contacts per round: small, so real-time work never waits long behind it.
    pub backfill_batch: i64,
    /// Requests in flight at once, per worker.
    pub concurrency: usize,
    /// Worker loops per instance. More than one keeps requests flowing while another loop does its
    /// bookkeeping: the bucket holds at most one token at low ceilings, so a pause wastes budget.
    pub workers: usize,
    /// Sleep when there is nothing to do.
    pub idle: StdDuration,
}

impl WorkerConfig {
    /// Batches sized to about two seconds of the rate ceiling (real-time, shared by the loops) and
    /// 0.1 s (backfill), so a batch never outlives its lease waiting for rate permits.
    pub fn for_rate(rate: f64) -> Self {
        Self {
            lease: Duration::seconds(30),
            realtime_batch: (rate * 2.0).ceil().clamp(1.0, 500.0) as i64,
            backfill_batch: (rate / 10.0).ceil().clamp(1.0, 500.0) as i64,
            concurrency: 64,
            workers: 4,
            idle: StdDuration::from_millis(100),
        }
    }

    /// As `for_rate`, but a batched target's claims hold as many contacts as the requests of that
    /// time carry (`events_batch` each), so one claim fills its requests and the ceiling × batch is
    /// reachable; capped so a claim's heads stay one quick query.
    pub fn for_target(rate: f64, target: EventsTarget, events_batch: usize) -> Self {
        let mut cfg = Self::for_rate(rate);
        if target == EventsTarget::ExternalEvents {
            let per_request = target.events_per_request(events_batch) as f64;
            let contacts =
                |requests: f64| (requests.ceil() * per_request).clamp(1.0, MAX_CLAIM) as i64;
            cfg.realtime_batch = contacts(rate * 2.0);
            cfg.backfill_batch = contacts(rate / 10.0);
        }
        cfg
    }
}

/// The most contacts one claim of a batched target holds.
const MAX_CLAIM: f64 = 5_000.0;

/// How long a send still waiting at shutdown (for a rate permit, a 429's pause, or an answer) may
/// go on before it is abandoned. Abandoning loses nothing: the event stays pending and its contact
/// is released, and a resend carries the same `X-Request-Id`.
pub const SEND_GRACE: StdDuration = StdDuration::from_secs(1);

/// Clones share one `Recovery`, so the loops of an instance notice an outage's end together.
#[derive(Clone)]
pub struct Worker {
    pub(super) state: Arc<AppState>,
    pub(super) client: GenesysClient,
    pub(super) cfg: WorkerConfig,
    shutdown: CancellationToken,
    pub(super) recovery: Arc<Recovery>,
    /// Warnings logged at most once a minute per instance (see `notices`).
    pub(super) notices: Arc<Notices>,
}

impl Worker {
    pub fn new(
        state: Arc<AppState>,
        client: GenesysClient,
        cfg: WorkerConfig,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            state,
            client,
            cfg,
            shutdown,
            recovery: Arc::default(),
            notices: Arc::default(),
        }
    }

    /// Runs rounds until shutdown; errors (e.g. the database restarting) are logged and retried.
    pub async fn run(self) -> anyhow::Result<()> {
        while !self.shutdown.is_cancelled() {
            let round = async {
                let handled = self.run_once().await?;
                self.probe().await?;
                anyhow::Ok(handled)
            };
            let pause = match round.await {
                Ok(0) => self.cfg.idle,
                Ok(_) => StdDuration::ZERO,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "delivery round failed; retrying");
                    StdDuration::from_secs(1)
                }
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        Ok(())
    }

    /// While the tenant looks down, tries one waiting contact early now and then (see `recovery`).
    async fn probe(&self) -> sqlx::Result<()> {
        if self.recovery.probe_due(Instant::now()) {
            let bucket = self.client.limiter().name();
            if let Some(c) =
                store::probe_one(&self.state.pool, self.state.clock.now(), bucket).await?
            {
                tracing::debug!(contact_id = %c, "probing whether the tenant is back");
            }
        }
        Ok(())
    }

    /// After the tenant answered again: every contact in backoff is ready now.
    async fn wake_if_recovered(&self) -> sqlx::Result<()> {
        if self.recovery.take_wake() {
            let bucket = self.client.limiter().name();
            let now = self.state.clock.now();
            let woken = store::wake_retrying(&self.state.pool, now, bucket).await?;
            tracing::info!(
                contacts = woken,
                "the tenant answers again; contacts waiting out a backoff are retried now"
            );
        }
        Ok(())
    }

    /// `fut`, unless shutdown began more than `SEND_GRACE` ago and it is still not done; nothing
    /// new starts once shutdown has begun.
    pub(super) async fn unless_stopping<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        if self.shutdown.is_cancelled() {
            return None;
        }
        let stopping = async {
            self.shutdown.cancelled().await;
            tokio::time::sleep(SEND_GRACE).await;
        };
        tokio::select! {
            biased;
            r = fut => Some(r),
            _ = stopping => None,
        }
    }

    /// One round: the real-time lane if it has ready work, else a small backfill batch. Returns how
    /// many contacts were handled (0 = nothing to do).
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let pool = &self.state.pool;
        let now = self.state.clock.now();
        let claimed = store::claim(
            pool,
            Lane::Realtime,
            now,
            self.cfg.lease,
            self.cfg.realtime_batch,
        )
        .await?;
        if !claimed.is_empty() {
            return self.handle(Lane::Realtime, claimed).await;
        }
        let claimed = store::claim(
            pool,
            Lane::Backfill,
            now,
            self.cfg.lease,
            self.cfg.backfill_batch,
        )
        .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        self.handle(Lane::Backfill, claimed).await
    }

    async fn handle(&self, lane: Lane, claimed: Vec<Claimed>) -> anyhow::Result<usize> {
        let pool = &self.state.pool;
        let n = claimed.len();
        // One claim, one token: `run_once` never hands over an empty claim.
        let token = claimed[0].lease_token;
        let now = self.state.clock.now();
        let (_, thresholds) = crate::registry::thresholds::current(pool).await?;
        let hold = Duration::seconds(thresholds.ordering_hold_seconds);
        let skew = Duration::seconds(thresholds.skew_tolerance_seconds);

        let ids: Vec<String> = claimed.iter().map(|c| c.contact_id.clone()).collect();
        let mut heads = store::heads(pool, lane, &ids).await?;
        let idle: Vec<(String, i64)> = claimed
            .iter()
            .filter(|c| !heads.iter().any(|h| h.contact_id == c.contact_id))
            .map(|c| (c.contact_id.clone(), c.generation))
            .collect();
        store::settle_idle(pool, lane, token, &idle, now).await?;
        // A head still in its ordering hold waits, and so does everything behind it.
        let (held, ready): (Vec<Head>, Vec<Head>) =
            heads.drain(..).partition(|h| h.received_at + hold > now);
        let held: Vec<_> = held
            .into_iter()
            .map(|h| (h.contact_id, h.received_at + hold))
            .collect();
        store::defer(pool, lane, token, &held).await?;
        let heads = ready;

        let failures = |contact: &str| {
            claimed
                .iter()
                .find(|c| c.contact_id == contact)
                .map_or(0, |c| c.failures)
        };
        let outcomes: Vec<Outcome> = match self.client.config().events {
            EventsTarget::Pe => {
                futures_util::stream::iter(heads)
                    .map(|head| {
                        let prior = failures(&head.contact_id);
                        async move { self.deliver(lane, head, prior, skew).await }
                    })
                    .buffer_unordered(self.cfg.concurrency)
                    .collect()
                    .await
            }
            EventsTarget::ExternalEvents => {
                self.deliver_batched(lane, heads, &failures, skew).await?
            }
        };
        store::record(pool, lane, token, &outcomes, self.state.clock.now()).await?;
        self.wake_if_recovered().await?;
        Ok(n)
    }
}

/// SPEC §5: an event more than the skew tolerance older than the newest one already delivered on
/// the real-time lane for its contact is a late arrival. Exactly the tolerance is still delivered.
pub fn is_late(head: &Head, skew: Duration) -> bool {
    head.newest_realtime_ts
        .is_some_and(|newest| head.event_timestamp < newest - skew)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn head(ts_secs: i64, newest: Option<i64>) -> Head {
        let at = |s| Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap();
        Head {
            id: uuid::Uuid::nil(),
            contact_id: "c".into(),
            event_type: "t".into(),
            event_timestamp: at(ts_secs),
            attributes: json!({}),
            request_id: uuid::Uuid::nil(),
            received_at: at(0),
            newest_realtime_ts: newest.map(at),
        }
    }

    #[test]
    fn late_arrival_is_strictly_beyond_the_skew_tolerance() {
        let skew = Duration::seconds(300);
        assert!(!is_late(&head(0, None), skew), "nothing delivered yet");
        assert!(
            !is_late(&head(0, Some(300)), skew),
            "exactly 300 s earlier is delivered"
        );
        assert!(is_late(&head(0, Some(301)), skew), "301 s earlier is late");
        assert!(!is_late(&head(500, Some(100)), skew), "newer is never late");
    }

    #[test]
    fn batches_follow_the_rate() {
        let c = WorkerConfig::for_rate(5.0);
        assert_eq!((c.realtime_batch, c.backfill_batch), (10, 1));
        let c = WorkerConfig::for_rate(100_000.0);
        assert_eq!((c.realtime_batch, c.backfill_batch), (500, 500));
        let c = WorkerConfig::for_target(5.0, EventsTarget::Pe, 100);
        assert_eq!((c.realtime_batch, c.backfill_batch), (10, 1));
    }

    #[test]
    fn batched_claims_fill_their_requests() {
        // 5 requests/s × 2 s, 100 entities each; backfill: one request's worth.
        let c = WorkerConfig::for_target(5.0, EventsTarget::ExternalEvents, 100);
        assert_eq!((c.realtime_batch, c.backfill_batch), (1_000, 100));
        let c = WorkerConfig::for_target(0.5, EventsTarget::ExternalEvents, 10);
        assert_eq!((c.realtime_batch, c.backfill_batch), (10, 10));
        let c = WorkerConfig::for_target(300.0, EventsTarget::ExternalEvents, 100);
        assert_eq!((c.realtime_batch, c.backfill_batch), (5_000, 3_000));
    }
}

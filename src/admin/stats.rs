//! `GET /v1/admin/stats` (JSON) and `GET /metrics` (Prometheus text): the same figures both ways.
//! Queue depths and ages come from the database (cluster-wide, computed at most every 5 s and
//! shared by every scraper); counters are this instance's.

use std::fmt::Write;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::delivery::figures::{self, LaneRow};
use crate::delivery::metrics::{DELIVERY, RetryCount};
use crate::dialer::metrics::{HAND_OVERS, ModeCounts};
use crate::evaluation::metrics::{DECISIONS, ReasonCount};
use crate::genesys::{EventsTarget, org};
use crate::ingest::metrics::INTAKE;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Reader;
use crate::platform::http::responses as problems;
use crate::retention::prune::{PrunedCount, pruned_totals};
use crate::scoring::metrics::{POLLS, PollCounts};

use super::stats_monitors::{self, MonitorStats, MonitorTables};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(stats).service(metrics);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LaneStats {
    /// Events waiting in the lane.
    pub depth: i64,
    /// Seconds since the oldest waiting event was received (0 when empty).
    pub oldest_pending_age_seconds: f64,
    /// Events delivered from this lane (all instances, all time).
    pub delivered: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub realtime: LaneStats,
    pub backfill: LaneStats,
    pub reconciliation_depth: i64,
    pub quarantine_open: i64,
    pub dead_letters_open: i64,
    /// Contacts handed to the dialer (all instances, all time).
    pub dispatched: i64,
    /// This instance's counters since it started.
    pub instance: CounterSnapshot,
    /// This instance's scoring and campaign counters since it started.
    pub scoring: ScoringSnapshot,
    /// Rows deleted by the retention prune, per table (all instances, all time).
    pub pruned: Vec<PrunedCount>,
    /// Where events go and whether they can go now; `null` when no Genesys tenant is configured
    /// (events are then stored but not delivered).
    pub genesys: Option<EventsTargetStatus>,
    /// The change watches and the chronology check (issue 11 §2).
    pub monitors: MonitorStats,
}

/// Why events wait, when the target needs something first.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventsTargetStatus {
    /// `pe` (SPEC §5) or `external-events` (`PESYNC_GENESYS_EVENTS`).
    #[schema(example = "external-events")]
    pub target: String,
    /// Whether events can go: always for `pe`; for `external-events`, once `pesync genesys setup`
    /// has run against the org pesync talks to.
    pub set_up: bool,
    /// Why events stay queued, while they do.
    pub note: Option<String>,
}

/// How long one computation of the database figures serves every scraper.
pub const CACHE_FOR: TimeDelta = TimeDelta::seconds(5);

/// The figures counted in the database (cluster-wide), as of one computation.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    lanes: Vec<LaneRow>,
    reconciliation: i64,
    quarantine: i64,
    dead_letters: i64,
    dispatched: i64,
    pruned: Vec<PrunedCount>,
    genesys: Option<EventsTargetStatus>,
    monitors: MonitorTables,
}

/// The database figures of `/metrics` and `/v1/admin/stats`, computed at most once per
/// [`CACHE_FOR`] whatever the number of scrapers: they count whole tables, and a burst of scrapes
/// must not take the database from ingestion. Single flight: scrapers arriving while the figures
/// are computed wait for that computation instead of starting their own. The counts are exact as
/// of the computation; the oldest pending age is worked out at each scrape from the stored
/// timestamp, so it is exact at any time.
#[derive(Debug, Default)]
pub struct StatsCache {
    slot: tokio::sync::Mutex<Slot>,
    /// Computations started.
    computations: AtomicU64,
    /// Computations finished, failed or not.
    settled: AtomicU64,
}

#[derive(Debug, Default)]
struct Slot {
    fresh: Option<(DateTime<Utc>, Arc<Tables>)>,
    /// The last computation failed: those who were waiting for it fail too rather than each
    /// trying again in turn (with the database down, that would be a queue of 5 s waits).
    failed: bool,
}

impl StatsCache {
    /// How many computations were started (tests count them).
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::SeqCst)
    }

    /// The figures as of at most [`CACHE_FOR`] before `now`, computed by `compute` when older.
    pub async fn get<F, Fut>(&self, now: DateTime<Utc>, compute: F) -> Result<Arc<Tables>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Tables, ApiError>>,
    {
        let seen = self.settled.load(Ordering::SeqCst);
        let mut slot = self.slot.lock().await;
        if let Some((at, tables)) = &slot.fresh
            && *at <= now
            && now - *at < CACHE_FOR
        {
            return Ok(Arc::clone(tables));
        }
        if slot.failed && self.settled.load(Ordering::SeqCst) > seen {
            return Err(ApiError::Unavailable(anyhow::anyhow!(
                "the figures could not be computed just now"
            )));
        }
        self.computations.fetch_add(1, Ordering::SeqCst);
        let result = compute().await;
        slot.failed = result.is_err();
        self.settled.fetch_add(1, Ordering::SeqCst);
        let tables = Arc::new(result?);
        slot.fresh = Some((now, Arc::clone(&tables)));
        Ok(tables)
    }
}

/// Counts the tables, on the read pool (its statement timeout bounds a slow count).
async fn count_tables(state: &AppState) -> Result<Tables, ApiError> {
    let lanes = figures::lanes(&state.reads).await?;
    let other = figures::open_counts(&state.reads).await?;
    let pruned = pruned_totals(&state.reads).await?;
    // Hand-overs are pruned after their retention period, but were dispatched all the same.
    let pruned_handovers: i64 = pruned
        .iter()
        .filter(|p| p.table == "handovers")
        .map(|p| p.rows)
        .sum();
    Ok(Tables {
        lanes,
        reconciliation: other.reconciliation,
        quarantine: other.quarantine,
        dead_letters: other.dead_letters,
        dispatched: other.dispatched + pruned_handovers,
        pruned,
        genesys: genesys_status(state).await?,
        monitors: stats_monitors::count(state).await?,
    })
}

/// The target, and for `external-events` whether the stored org is this one (two small reads).
async fn genesys_status(state: &AppState) -> Result<Option<EventsTargetStatus>, ApiError> {
    let Some(client) = &state.genesys else {
        return Ok(None);
    };
    let cfg = client.config();
    let ready = match cfg.events {
        EventsTarget::Pe => Ok(()),
        EventsTarget::ExternalEvents => {
            let stored = org::load(&mut *state.reads.acquire().await?).await?;
            org::readiness(stored.as_ref(), &cfg.base_url).map(|_| ())
        }
    };
    Ok(Some(EventsTargetStatus {
        target: cfg.events.as_str().to_owned(),
        set_up: ready.is_ok(),
        note: ready.err().map(|why| why.note()),
    }))
}

pub async fn collect(state: &AppState, cache: &StatsCache) -> Result<Stats, ApiError> {
    let now = state.clock.now();
    let tables = cache.get(now, || count_tables(state)).await?;
    Ok(stats_of(&tables, now))
}

/// The figures of `tables` with this instance's counters, ages as of `now`.
fn stats_of(tables: &Tables, now: DateTime<Utc>) -> Stats {
    let lane = |name: &str| {
        let row = tables.lanes.iter().find(|r| r.lane == name);
        LaneStats {
            depth: row.map_or(0, |r| r.depth),
            oldest_pending_age_seconds: row
                .and_then(|r| r.oldest)
                .map_or(0.0, |t: DateTime<Utc>| {
                    ((now - t).num_milliseconds() as f64 / 1000.0).max(0.0)
                }),
            delivered: row.map_or(0, |r| r.delivered),
        }
    };
    Stats {
        realtime: lane("realtime"),
        backfill: lane("backfill"),
        reconciliation_depth: tables.reconciliation,
        quarantine_open: tables.quarantine,
        dead_letters_open: tables.dead_letters,
        dispatched: tables.dispatched,
        instance: CounterSnapshot::now(),
        scoring: ScoringSnapshot::now(),
        pruned: tables.pruned.clone(),
        genesys: tables.genesys.clone(),
        monitors: stats_monitors::stats_of(&tables.monitors),
    }
}

/// Queue depths, oldest pending age per lane, delivered and dispatched counts (as of at most 5 s
/// ago), and this instance's counters.
#[utoipa::path(tag = "operations", security(("bearer" = [])),
    responses((status = 200, body = Stats), problems::Reads))]
#[get("/v1/admin/stats")]
pub async fn stats(
    _: Reader,
    state: web::Data<AppState>,
    cache: web::Data<StatsCache>,
) -> Result<web::Json<Stats>, ApiError> {
    Ok(web::Json(collect(&state, &cache).await?))
}

/// Prometheus text exposition of the same figures (unauthenticated, as scrapers expect; it carries
/// counts only, never payloads or secrets).
#[utoipa::path(tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
        problems::ServerErrors))]
#[get("/metrics")]
pub async fn metrics(
    state: web::Data<AppState>,
    cache: web::Data<StatsCache>,
) -> Result<HttpResponse, ApiError> {
    let s = collect(&state, &cache).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(render(&s)))
}

/// One metric family of the exposition: its samples are (labels, value).
pub(super) struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// A family with one unlabelled sample.
pub(super) fn single(name: &'static str, kind: &'static str, help: &'static str, v: u64) -> Family {
    family(name, kind, help, [(String::new(), v as f64)])
}

pub(super) fn family(
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: impl IntoIterator<Item = (String, f64)>,
) -> Family {
    Family {
        name,
        kind,
        help,
        samples: samples.into_iter().collect(),
    }
}

/// `{label="value"}`.
pub(super) fn label(name: &str, value: &str) -> String {
    format!("{{{name}=\"{value}\"}}")
}

/// Per-lane samples of a lane figure.
fn lanes(s: &Stats, figure: impl Fn(&LaneStats) -> f64) -> [(String, f64); 2] {
    [
        (label("lane", "realtime"), figure(&s.realtime)),
        (label("lane", "backfill"), figure(&s.backfill)),
    ]
}

// Each stage owns its counters (`ingest::metrics`, `delivery::metrics`, `genesys::metrics`);
// the snapshot puts them together as they have always been shown.
/// This instance's counters since it started.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CounterSnapshot {
    pub events_received: u64,
    pub deprecated_attributes_stripped: u64,
    /// Change events received on `/cdc` and not ingested (tombstones, ignored deletes).
    pub cdc_changes_skipped: u64,
    pub delivered_realtime: u64,
    pub delivered_backfill: u64,
    pub late_arrivals: u64,
    pub dead_letters: u64,
    /// 429 answers from Genesys.
    pub responses_429: u64,
    pub retries: Vec<RetryCount>,
}

impl CounterSnapshot {
    fn now() -> Self {
        let intake = INTAKE.snapshot();
        let delivery = DELIVERY.snapshot();
        Self {
            events_received: intake.received,
            deprecated_attributes_stripped: intake.deprecated_stripped,
            cdc_changes_skipped: intake.cdc_skipped,
            delivered_realtime: delivery.realtime,
            delivered_backfill: delivery.backfill,
            late_arrivals: delivery.late_arrivals,
            dead_letters: delivery.dead_letters,
            responses_429: crate::genesys::metrics::responses_429(),
            retries: delivery.retries,
        }
    }
}

// From `scoring::metrics`, `evaluation::metrics` and `dialer::metrics`.
/// This instance's scoring and campaign counters since it started.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoringSnapshot {
    /// Profile polls by outcome.
    pub polls: PollCounts,
    /// Decisions recorded by the evaluation run, by reason (every reason, in SPEC order).
    pub decisions: Vec<ReasonCount>,
    /// Contacts handed to the dialer, by mode.
    pub handed_over: ModeCounts,
    /// Contacts the dialer refused for good (a 4xx).
    pub dialer_rejected: u64,
    /// Dialer pushes that failed and wait for a retry.
    pub dialer_push_retries: u64,
}

impl ScoringSnapshot {
    fn now() -> Self {
        let hand_overs = HAND_OVERS.snapshot();
        Self {
            polls: POLLS.snapshot(),
            decisions: DECISIONS.snapshot(),
            handed_over: hand_overs.by_mode,
            dialer_rejected: hand_overs.rejected,
            dialer_push_retries: hand_overs.push_retries,
        }
    }
}

/// Every family `/metrics` shows, from the same [`Stats`] as `/v1/admin/stats`.
fn families(s: &Stats) -> Vec<Family> {
    let c = &s.instance;
    let k = &s.scoring;
    let genesys = s.genesys.iter().map(|g| {
        let ready = if g.set_up { 1.0 } else { 0.0 };
        (label("target", &g.target), ready)
    });
    vec![
        family(
            "pesync_genesys_ready",
            "gauge",
            "1 while events can go to Genesys (external-events: once the org is set up), else 0.",
            genesys,
        ),
        family(
            "pesync_lane_depth",
            "gauge",
            "Events waiting per delivery lane.",
            lanes(s, |l| l.depth as f64),
        ),
        family(
            "pesync_lane_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest waiting event per lane.",
            lanes(s, |l| l.oldest_pending_age_seconds),
        ),
        family(
            "pesync_events_delivered",
            "gauge",
            "Events delivered per lane, all instances.",
            lanes(s, |l| l.delivered as f64),
        ),
        single(
            "pesync_reconciliation_depth",
            "gauge",
            "Future-dated events waiting for an operator.",
            s.reconciliation_depth as u64,
        ),
        single(
            "pesync_quarantine_open",
            "gauge",
            "Quarantined events not yet replayed or discarded.",
            s.quarantine_open as u64,
        ),
        single(
            "pesync_dead_letters_open",
            "gauge",
            "Delivery dead letters not yet replayed.",
            s.dead_letters_open as u64,
        ),
        single(
            "pesync_dispatched",
            "gauge",
            "Contacts handed to the dialer, all instances.",
            s.dispatched as u64,
        ),
        family(
            "pesync_pruned_rows_total",
            "counter",
            "Rows deleted by the retention prune, per table, all instances.",
            s.pruned
                .iter()
                .map(|p| (label("table", &p.table), p.rows as f64)),
        ),
        single(
            "pesync_events_received_total",
            "counter",
            "Events received by this instance.",
            c.events_received,
        ),
        single(
            "pesync_deprecated_attributes_stripped_total",
            "counter",
            "Deprecated attributes stripped before delivery.",
            c.deprecated_attributes_stripped,
        ),
        single(
            "pesync_cdc_changes_skipped_total",
            "counter",
            "Change events received and not ingested (tombstones, deletes the CDC mapping ignores).",
            c.cdc_changes_skipped,
        ),
        family(
            "pesync_delivered_total",
            "counter",
            "Events delivered by this instance.",
            [
                (label("lane", "realtime"), c.delivered_realtime as f64),
                (label("lane", "backfill"), c.delivered_backfill as f64),
            ],
        ),
        single(
            "pesync_late_arrivals_total",
            "counter",
            "Events moved from the real-time to the backfill lane.",
            c.late_arrivals,
        ),
        single(
            "pesync_dead_letters_total",
            "counter",
            "Events dead-lettered by this instance.",
            c.dead_letters,
        ),
        single(
            "pesync_genesys_429_total",
            "counter",
            "429 answers from Genesys.",
            c.responses_429,
        ),
        family(
            "pesync_delivery_retries_total",
            "counter",
            "Delivery attempts to be retried, by cause.",
            c.retries
                .iter()
                .map(|r| (label("cause", r.cause), r.count as f64)),
        ),
        family(
            "pesync_profile_polls_total",
            "counter",
            "Profile polls by outcome.",
            [
                (label("outcome", "profile"), k.polls.profile as f64),
                (label("outcome", "not_found"), k.polls.not_found as f64),
                (label("outcome", "failed"), k.polls.failed as f64),
            ],
        ),
        family(
            "pesync_decisions_total",
            "counter",
            "Decisions recorded by the evaluation run, by reason.",
            k.decisions
                .iter()
                .map(|r| (label("reason", r.reason), r.count as f64)),
        ),
        family(
            "pesync_dialer_handed_over_total",
            "counter",
            "Contacts handed to the dialer, by mode.",
            [
                (label("mode", "push"), k.handed_over.push as f64),
                (label("mode", "pull"), k.handed_over.pull as f64),
            ],
        ),
        single(
            "pesync_dialer_rejected_total",
            "counter",
            "Contacts the dialer refused for good (a 4xx).",
            k.dialer_rejected,
        ),
        single(
            "pesync_dialer_push_retries_total",
            "counter",
            "Dialer pushes that failed and wait for a retry.",
            k.dialer_push_retries,
        ),
    ]
}

/// The Prometheus text format of `s`.
pub fn render(s: &Stats) -> String {
    let mut out = String::new();
    for f in families(s)
        .into_iter()
        .chain(stats_monitors::families(&s.monitors))
    {
        let _ = writeln!(
            out,
            "# HELP {} {}\n# TYPE {} {}",
            f.name, f.help, f.name, f.kind
        );
        for (labels, v) in &f.samples {
            let _ = writeln!(out, "{}{labels} {v}", f.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    /// A computation that yields a few times (so concurrent callers really overlap) and returns
    /// `dispatched` as the figure.
    async fn slow(dispatched: &AtomicI64) -> Result<Tables, ApiError> {
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        Ok(Tables {
            dispatched: dispatched.load(Ordering::SeqCst),
            ..Tables::default()
        })
    }

    #[tokio::test]
    async fn concurrent_scrapes_share_one_computation() {
        let cache = StatsCache::default();
        let db = AtomicI64::new(7);
        let scrapes = (0..200).map(|_| cache.get(at(0), || slow(&db)));
        let all = futures_util::future::join_all(scrapes).await;
        assert!(all.iter().all(|t| t.as_ref().unwrap().dispatched == 7));
        assert_eq!(cache.computations(), 1);
    }

    #[tokio::test]
    async fn figures_are_recomputed_once_the_cache_period_is_over() {
        let cache = StatsCache::default();
        let db = AtomicI64::new(1);
        assert_eq!(cache.get(at(0), || slow(&db)).await.unwrap().dispatched, 1);
        db.store(2, Ordering::SeqCst);
        let cached = cache.get(at(4), || slow(&db)).await.unwrap();
        assert_eq!(cached.dispatched, 1, "within 5 s the figures are shared");
        let fresh = cache.get(at(5), || slow(&db)).await.unwrap();
        assert_eq!(fresh.dispatched, 2, "exact again after 5 s");
        // A clock set back does not keep serving figures from its future.
        db.store(3, Ordering::SeqCst);
        assert_eq!(cache.get(at(1), || slow(&db)).await.unwrap().dispatched, 3);
        assert_eq!(cache.computations(), 3);
    }

    #[tokio::test]
    async fn those_waiting_for_a_failed_computation_fail_with_it() {
        let cache = StatsCache::default();
        let failing = || async {
            tokio::task::yield_now().await;
            Err::<Tables, _>(ApiError::Unavailable(anyhow::anyhow!("database down")))
        };
        let scrapes = (0..20).map(|_| cache.get(at(0), failing));
        let all = futures_util::future::join_all(scrapes).await;
        assert!(
            all.iter()
                .all(|r| matches!(r, Err(ApiError::Unavailable(_))))
        );
        assert_eq!(cache.computations(), 1);
        // The next scrape tries again.
        let db = AtomicI64::new(4);
        assert_eq!(cache.get(at(0), || slow(&db)).await.unwrap().dispatched, 4);
        assert_eq!(cache.computations(), 2);
    }

    #[test]
    fn the_oldest_age_is_worked_out_at_each_scrape() {
        let tables = Tables {
            lanes: vec![LaneRow {
                lane: "realtime".into(),
                depth: 3,
                oldest: Some(at(0)),
                delivered: 9,
            }],
            ..Tables::default()
        };
        let s = stats_of(&tables, at(4));
        assert_eq!(s.realtime.depth, 3);
        assert_eq!(s.realtime.oldest_pending_age_seconds, 4.0);
        assert_eq!(s.backfill.depth, 0);
        assert_eq!(
            stats_of(&tables, at(10))
                .realtime
                .oldest_pending_age_seconds,
            10.0
        );
    }
}

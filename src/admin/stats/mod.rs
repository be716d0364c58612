//! `GET /v1/admin/stats`: queue depths and ages, delivered and dispatched counts, the monitors and
//! this instance's counters, as JSON. `/metrics` (`admin::prometheus`) shows the same figures as
//! Prometheus text. Queue depths and ages come from the database (cluster-wide, computed at most
//! every 5 s and shared by every scraper: `cache`); counters are this instance's.

mod cache;
pub mod monitors;

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::tenant::Tenant;
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

pub use cache::{CACHE_FOR, StatsCache};
use monitors::{MonitorStats, MonitorTables};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(stats);
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

/// Counts the tables, on the read pool (its statement timeout bounds a slow count).
async fn count_tables(state: &AppState, tenant: &Tenant) -> Result<Tables, ApiError> {
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
        genesys: genesys_status(state, tenant).await?,
        monitors: monitors::count(state).await?,
    })
}

/// The target, and for `external-events` whether the stored org is this one (two small reads).
async fn genesys_status(
    state: &AppState,
    tenant: &Tenant,
) -> Result<Option<EventsTargetStatus>, ApiError> {
    let Some(client) = &tenant.client else {
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

pub async fn collect(
    state: &AppState,
    tenant: &Tenant,
    cache: &StatsCache,
) -> Result<Stats, ApiError> {
    let now = state.clock.now();
    let tables = cache.get(now, || count_tables(state, tenant)).await?;
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
        monitors: monitors::stats_of(&tables.monitors),
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
    tenant: web::Data<Tenant>,
    cache: web::Data<StatsCache>,
) -> Result<web::Json<Stats>, ApiError> {
    Ok(web::Json(collect(&state, &tenant, &cache).await?))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
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

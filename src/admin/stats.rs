//! `GET /v1/admin/stats` (JSON) and `GET /metrics` (Prometheus text): the same figures both ways.
//! Queue depths and ages come from the database (cluster-wide); counters are this instance's.

use std::fmt::Write;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::http::auth::Reader;
use crate::jobs::counters::{SCORING, ScoringSnapshot};
use crate::retention::prune::{PrunedCount, pruned_totals};
use crate::startup::AppState;
use crate::telemetry::counters::{COUNTERS, CounterSnapshot};

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
}

pub async fn collect(state: &AppState) -> Result<Stats, sqlx::Error> {
    let now = state.clock.now();
    let lanes = sqlx::query!(
        r#"SELECT lane AS "lane!",
                  count(*) FILTER (WHERE state = 'pending') AS "depth!",
                  min(received_at) FILTER (WHERE state = 'pending') AS oldest,
                  count(*) FILTER (WHERE state = 'delivered') AS "delivered!"
           FROM events WHERE lane IS NOT NULL AND state IN ('pending', 'delivered') GROUP BY lane"#
    )
    .fetch_all(&state.pool)
    .await?;
    let lane = |name: &str| {
        let row = lanes.iter().find(|r| r.lane == name);
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
    let other = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM events WHERE state = 'reconciliation') AS "reconciliation!",
                  (SELECT count(*) FROM quarantine WHERE state = 'open') AS "quarantine!",
                  (SELECT count(*) FROM dead_letters WHERE state = 'open') AS "dead_letters!",
                  (SELECT count(*) FROM handovers) AS "dispatched!""#
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Stats {
        realtime: lane("realtime"),
        backfill: lane("backfill"),
        reconciliation_depth: other.reconciliation,
        quarantine_open: other.quarantine,
        dead_letters_open: other.dead_letters,
        dispatched: other.dispatched,
        instance: COUNTERS.snapshot(),
        scoring: SCORING.snapshot(),
        pruned: pruned_totals(&state.pool).await?,
    })
}

/// Queue depths, oldest pending age per lane, delivered and dispatched counts, and this instance's
/// counters.
#[utoipa::path(tag = "operations", security(("bearer" = [])),
    responses((status = 200, body = Stats), (status = 401, body = crate::http::problem::Problem)))]
#[get("/v1/admin/stats")]
pub async fn stats(_: Reader, state: web::Data<AppState>) -> Result<web::Json<Stats>, ApiError> {
    Ok(web::Json(collect(&state).await?))
}

/// Prometheus text exposition of the same figures (unauthenticated, as scrapers expect; it carries
/// counts only, never payloads or secrets).
#[utoipa::path(tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let s = collect(&state).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(render(&s)))
}

/// One metric family of the exposition: its samples are (labels, value).
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// A family with one unlabelled sample.
fn single(name: &'static str, kind: &'static str, help: &'static str, v: u64) -> Family {
    family(name, kind, help, [(String::new(), v as f64)])
}

fn family(
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
fn label(name: &str, value: &str) -> String {
    format!("{{{name}=\"{value}\"}}")
}

/// Per-lane samples of a lane figure.
fn lanes(s: &Stats, figure: impl Fn(&LaneStats) -> f64) -> [(String, f64); 2] {
    [
        (label("lane", "realtime"), figure(&s.realtime)),
        (label("lane", "backfill"), figure(&s.backfill)),
    ]
}

/// Every family `/metrics` shows, from the same [`Stats`] as `/v1/admin/stats`.
fn families(s: &Stats) -> Vec<Family> {
    let c = &s.instance;
    let k = &s.scoring;
    vec![
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
    for f in families(s) {
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

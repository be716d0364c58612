//! `GET /v1/admin/stats` (JSON) and `GET /metrics` (Prometheus text): the same figures both ways.
//! Queue depths and ages come from the database (cluster-wide); counters are this instance's.

use std::fmt::Write;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::ApiError;
use crate::http::auth::Reader;
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
    let mut body = render(&s);
    crate::jobs::counters::SCORING.render(&mut body);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body))
}

pub fn render(s: &Stats) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    metric(
        "pesync_lane_depth",
        "gauge",
        "Events waiting per delivery lane.",
        &[
            ("{lane=\"realtime\"}", s.realtime.depth as f64),
            ("{lane=\"backfill\"}", s.backfill.depth as f64),
        ],
    );
    metric(
        "pesync_lane_oldest_pending_age_seconds",
        "gauge",
        "Age of the oldest waiting event per lane.",
        &[
            ("{lane=\"realtime\"}", s.realtime.oldest_pending_age_seconds),
            ("{lane=\"backfill\"}", s.backfill.oldest_pending_age_seconds),
        ],
    );
    metric(
        "pesync_events_delivered",
        "gauge",
        "Events delivered per lane, all instances.",
        &[
            ("{lane=\"realtime\"}", s.realtime.delivered as f64),
            ("{lane=\"backfill\"}", s.backfill.delivered as f64),
        ],
    );
    metric(
        "pesync_reconciliation_depth",
        "gauge",
        "Future-dated events waiting for an operator.",
        &[("", s.reconciliation_depth as f64)],
    );
    metric(
        "pesync_quarantine_open",
        "gauge",
        "Quarantined events not yet replayed or discarded.",
        &[("", s.quarantine_open as f64)],
    );
    metric(
        "pesync_dead_letters_open",
        "gauge",
        "Delivery dead letters not yet replayed.",
        &[("", s.dead_letters_open as f64)],
    );
    metric(
        "pesync_dispatched",
        "gauge",
        "Contacts handed to the dialer, all instances.",
        &[("", s.dispatched as f64)],
    );
    let c = &s.instance;
    metric(
        "pesync_events_received_total",
        "counter",
        "Events received by this instance.",
        &[("", c.events_received as f64)],
    );
    metric(
        "pesync_deprecated_attributes_stripped_total",
        "counter",
        "Deprecated attributes stripped before delivery.",
        &[("", c.deprecated_attributes_stripped as f64)],
    );
    metric(
        "pesync_delivered_total",
        "counter",
        "Events delivered by this instance.",
        &[
            ("{lane=\"realtime\"}", c.delivered_realtime as f64),
            ("{lane=\"backfill\"}", c.delivered_backfill as f64),
        ],
    );
    metric(
        "pesync_late_arrivals_total",
        "counter",
        "Events moved from the real-time to the backfill lane.",
        &[("", c.late_arrivals as f64)],
    );
    metric(
        "pesync_dead_letters_total",
        "counter",
        "Events dead-lettered by this instance.",
        &[("", c.dead_letters as f64)],
    );
    metric(
        "pesync_genesys_429_total",
        "counter",
        "429 answers from Genesys.",
        &[("", c.responses_429 as f64)],
    );
    let retries: Vec<(String, f64)> = c
        .retries
        .iter()
        .map(|r| (format!("{{cause=\"{}\"}}", r.cause), r.count as f64))
        .collect();
    let retries: Vec<(&str, f64)> = retries.iter().map(|(l, v)| (l.as_str(), *v)).collect();
    metric(
        "pesync_delivery_retries_total",
        "counter",
        "Delivery attempts to be retried, by cause.",
        &retries,
    );
    out
}

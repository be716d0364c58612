//! `GET /v1/admin/stats/series?minutes=15`: the figures of the last minutes, one point per minute,
//! for the console's charts. Every count comes from a timestamp stored in the database
//! (`delivered_at`, the quarantine's `received_at`, `evaluated_at`), so the series is the whole
//! cluster's whichever instance answers, and outlives restarts.

use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::admin::tenant::Tenant;
use crate::delivery::Lane;
use crate::platform::context::AppState;
use crate::platform::db::MinuteCount;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Reader;
use crate::platform::http::responses as problems;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(series);
}

/// The longest series: a day of minutes.
pub const MAX_MINUTES: u32 = 1440;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// Minutes to show, 1–1440, the current one included (default 15).
    #[param(minimum = 1, maximum = 1440)]
    pub minutes: Option<i64>,
    /// The figures to count, comma-separated: `delivered`, `quarantined`, `decisions` (default all).
    /// A day of deliveries at the ceiling is tens of millions of rows: ask a long series for what
    /// it needs.
    #[param(example = "decisions")]
    pub figures: Option<String>,
}

/// Which figures a series counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub delivered: bool,
    pub quarantined: bool,
    pub decisions: bool,
}

impl SeriesQuery {
    pub fn minutes(&self) -> Result<u32, ApiError> {
        match self.minutes {
            None => Ok(15),
            Some(n) if (1..=i64::from(MAX_MINUTES)).contains(&n) => Ok(n as u32),
            Some(n) => Err(ApiError::invalid(
                "minutes",
                format!("must be 1–{MAX_MINUTES}, got {n}"),
            )),
        }
    }

    pub fn figures(&self) -> Result<Wanted, ApiError> {
        let Some(list) = &self.figures else {
            return Ok(Wanted {
                delivered: true,
                quarantined: true,
                decisions: true,
            });
        };
        let names: Vec<&str> = list.split(',').map(str::trim).collect();
        if let Some(bad) = names
            .iter()
            .find(|n| !["delivered", "quarantined", "decisions"].contains(n))
        {
            return Err(ApiError::invalid(
                "figures",
                format!("{bad:?} is not one of delivered, quarantined, decisions"),
            ));
        }
        Ok(Wanted {
            delivered: names.contains(&"delivered"),
            quarantined: names.contains(&"quarantined"),
            decisions: names.contains(&"decisions"),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    /// The first minute shown (UTC, whole minute).
    pub from: DateTime<Utc>,
    /// The minute in progress, the last shown: its figures so far.
    pub to: DateTime<Utc>,
    /// What the rate ceiling allows; null when no Genesys tenant is configured.
    pub ceiling: Option<Ceiling>,
    /// One point per minute, oldest first, every minute present (zeros included).
    pub points: Vec<MinutePoint>,
}

/// The cluster-wide ceiling on requests to Genesys (`PESYNC_PE_RATE_LIMIT`). Profile polls and
/// dialer pushes take their permits from it too, so deliveries reach it only when nothing else runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ceiling {
    pub requests_per_minute: f64,
    /// 1 for `pe`; `PESYNC_GENESYS_EVENTS_BATCH` for `external-events`.
    pub events_per_request: u64,
    /// The most events a minute of the ceiling can deliver.
    pub events_per_minute: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct MinutePoint {
    /// The minute's start (UTC).
    pub minute: DateTime<Utc>,
    /// Events delivered in the minute, per lane (absent when `figures` leaves it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<LaneCounts>,
    /// Events quarantined in the minute, by reason (reasons with none are left out; absent when
    /// `figures` leaves it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<BTreeMap<String, i64>>,
    /// Decisions the evaluation made in the minute, by reason (reasons with none are left out;
    /// absent when `figures` leaves it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisions: Option<BTreeMap<String, i64>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct LaneCounts {
    pub realtime: i64,
    pub backfill: i64,
}

/// The first minute of a series of `minutes` ending with the one `now` is in.
pub fn first_minute(now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    let current = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
    current - TimeDelta::minutes(i64::from(minutes) - 1)
}

/// Every minute from `first`, `minutes` of them, with the counts that fall in each (`None`: a
/// figure not counted). Counts of other minutes (a clock set back, a row from the future) are left
/// out. Pure.
pub fn points(
    first: DateTime<Utc>,
    minutes: u32,
    delivered: Option<&[MinuteCount]>,
    quarantined: Option<&[MinuteCount]>,
    decisions: Option<&[MinuteCount]>,
) -> Vec<MinutePoint> {
    let mut out: Vec<MinutePoint> = (0..i64::from(minutes))
        .map(|i| MinutePoint {
            minute: first + TimeDelta::minutes(i),
            delivered: delivered.map(|_| LaneCounts::default()),
            quarantined: quarantined.map(|_| BTreeMap::new()),
            decisions: decisions.map(|_| BTreeMap::new()),
        })
        .collect();
    // Counts are of whole minutes (`date_trunc`), so a minute's offset from the first is exact.
    let slot = |m: DateTime<Utc>| {
        let i = (m - first).num_minutes();
        (m >= first && i < i64::from(minutes)).then_some(i as usize)
    };
    for c in delivered.unwrap_or_default() {
        let Some(lanes) = slot(c.minute).and_then(|i| out[i].delivered.as_mut()) else {
            continue;
        };
        match Lane::parse(&c.key) {
            Some(Lane::Realtime) => lanes.realtime += c.count,
            Some(Lane::Backfill) => lanes.backfill += c.count,
            None => {}
        }
    }
    for c in quarantined.unwrap_or_default() {
        if let Some(by) = slot(c.minute).and_then(|i| out[i].quarantined.as_mut()) {
            *by.entry(c.key.clone()).or_default() += c.count;
        }
    }
    for c in decisions.unwrap_or_default() {
        if let Some(by) = slot(c.minute).and_then(|i| out[i].decisions.as_mut()) {
            *by.entry(c.key.clone()).or_default() += c.count;
        }
    }
    out
}

/// The ceiling of the configured Genesys client, per minute.
fn ceiling(tenant: &Tenant) -> Option<Ceiling> {
    let cfg = tenant.client.as_ref()?.config();
    let per_request = cfg.events.events_per_request(cfg.events_batch) as u64;
    let requests_per_minute = cfg.rate_limit * 60.0;
    Some(Ceiling {
        requests_per_minute,
        events_per_request: per_request,
        events_per_minute: requests_per_minute * per_request as f64,
    })
}

/// Per-minute figures of the last `minutes` (default 15, at most 1,440): events delivered per lane
/// against the rate ceiling, events quarantined and decisions by reason, all instances.
#[utoipa::path(tag = "operations", security(("bearer" = [])),
    params(SeriesQuery),
    responses((status = 200, body = Series), problems::Reads, problems::Query))]
#[get("/v1/admin/stats/series")]
pub async fn series(
    _: Reader,
    state: web::Data<AppState>,
    tenant: web::Data<Tenant>,
    query: web::Query<SeriesQuery>,
) -> Result<web::Json<Series>, ApiError> {
    let (minutes, want) = (query.minutes()?, query.figures()?);
    let first = first_minute(state.clock.now(), minutes);
    let db = &state.reads;
    // A future not awaited runs no query.
    async fn counted<F>(wanted: bool, query: F) -> sqlx::Result<Option<Vec<MinuteCount>>>
    where
        F: std::future::Future<Output = sqlx::Result<Vec<MinuteCount>>>,
    {
        if wanted {
            query.await.map(Some)
        } else {
            Ok(None)
        }
    }
    let (delivered, quarantined, decisions) = tokio::try_join!(
        counted(
            want.delivered,
            crate::delivery::queue::delivered_by_minute(db, first)
        ),
        counted(
            want.quarantined,
            crate::ingest::quarantine::quarantined_by_minute(db, first)
        ),
        counted(
            want.decisions,
            crate::evaluation::runs::decisions_by_minute(db, first)
        ),
    )?;
    Ok(web::Json(Series {
        from: first,
        to: first + TimeDelta::minutes(i64::from(minutes) - 1),
        ceiling: ceiling(&tenant),
        points: points(
            first,
            minutes,
            delivered.as_deref(),
            quarantined.as_deref(),
            decisions.as_deref(),
        ),
    }))
}

#[cfg(test)]
#[path = "series_tests.rs"]
mod tests;

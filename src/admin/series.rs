//! `GET /v1/admin/stats/series?minutes=15`: the figures of the last minutes, one point per minute,
//! for the console's charts. Every count comes from a timestamp stored in the database
//! (`delivered_at`, the quarantine's `received_at`, `evaluated_at`), so the series is the whole
//! cluster's whichever instance answers, and outlives restarts.

use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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
    /// Events delivered in the minute, per lane.
    pub delivered: LaneCounts,
    /// Events quarantined in the minute, by reason (reasons with none are left out).
    pub quarantined: BTreeMap<String, i64>,
    /// Decisions the evaluation made in the minute, by reason (reasons with none are left out).
    pub decisions: BTreeMap<String, i64>,
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

/// Every minute from `first`, `minutes` of them, with the counts that fall in each. Counts of other
/// minutes (a clock set back, a row from the future) are left out. Pure.
pub fn points(
    first: DateTime<Utc>,
    minutes: u32,
    delivered: &[MinuteCount],
    quarantined: &[MinuteCount],
    decisions: &[MinuteCount],
) -> Vec<MinutePoint> {
    let mut out: Vec<MinutePoint> = (0..i64::from(minutes))
        .map(|i| MinutePoint {
            minute: first + TimeDelta::minutes(i),
            ..MinutePoint::default()
        })
        .collect();
    // Counts are of whole minutes (`date_trunc`), so a minute's offset from the first is exact.
    let slot = |m: DateTime<Utc>| {
        let i = (m - first).num_minutes();
        (m >= first && i < i64::from(minutes)).then_some(i as usize)
    };
    for c in delivered {
        let Some(p) = slot(c.minute).map(|i| &mut out[i]) else {
            continue;
        };
        match Lane::parse(&c.key) {
            Some(Lane::Realtime) => p.delivered.realtime += c.count,
            Some(Lane::Backfill) => p.delivered.backfill += c.count,
            None => {}
        }
    }
    for c in quarantined {
        if let Some(i) = slot(c.minute) {
            *out[i].quarantined.entry(c.key.clone()).or_default() += c.count;
        }
    }
    for c in decisions {
        if let Some(i) = slot(c.minute) {
            *out[i].decisions.entry(c.key.clone()).or_default() += c.count;
        }
    }
    out
}

/// The ceiling of the configured Genesys client, per minute.
fn ceiling(state: &AppState) -> Option<Ceiling> {
    let cfg = state.genesys.as_ref()?.config();
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
    query: web::Query<SeriesQuery>,
) -> Result<web::Json<Series>, ApiError> {
    let minutes = query.minutes()?;
    let now = state.clock.now();
    let first = first_minute(now, minutes);
    let db = &state.reads;
    let (delivered, quarantined, decisions) = tokio::try_join!(
        crate::delivery::queue::delivered_by_minute(db, first),
        crate::ingest::store::quarantined_by_minute(db, first),
        crate::evaluation::store::decisions_by_minute(db, first),
    )?;
    Ok(web::Json(Series {
        from: first,
        to: first + TimeDelta::minutes(i64::from(minutes) - 1),
        ceiling: ceiling(&state),
        points: points(first, minutes, &delivered, &quarantined, &decisions),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn count(minute: &str, key: &str, count: i64) -> MinuteCount {
        MinuteCount {
            minute: at(minute),
            key: key.into(),
            count,
        }
    }

    #[test]
    fn the_series_ends_with_the_minute_in_progress() {
        let now = at("2026-12-08T10:15:42.5Z");
        assert_eq!(first_minute(now, 15), at("2026-12-08T10:01:00Z"));
        assert_eq!(first_minute(now, 1), at("2026-12-08T10:15:00Z"));
        assert_eq!(first_minute(now, 1440), at("2026-12-07T10:16:00Z"));
    }

    #[test]
    fn every_minute_is_present_and_counts_land_in_their_minute() {
        let first = at("2026-12-08T10:00:00Z");
        let delivered = [
            count("2026-12-08T10:00:00Z", "realtime", 7),
            count("2026-12-08T10:00:00Z", "backfill", 2),
            count("2026-12-08T10:02:00Z", "realtime", 5),
            // Before the series and after it: left out.
            count("2026-12-08T09:59:00Z", "realtime", 100),
            count("2026-12-08T10:03:00Z", "realtime", 100),
        ];
        let quarantined = [count("2026-12-08T10:01:00Z", "unknown_attribute", 3)];
        let decisions = [
            count("2026-12-08T10:02:00Z", "eligible", 4),
            count("2026-12-08T10:02:00Z", "cooldown", 1),
        ];
        let p = points(first, 3, &delivered, &quarantined, &decisions);
        assert_eq!(p.len(), 3);
        let minutes: Vec<_> = p.iter().map(|p| p.minute).collect();
        assert_eq!(
            minutes,
            [
                first,
                at("2026-12-08T10:01:00Z"),
                at("2026-12-08T10:02:00Z")
            ]
        );
        assert_eq!(
            p[0].delivered,
            LaneCounts {
                realtime: 7,
                backfill: 2
            }
        );
        assert_eq!(p[1].delivered, LaneCounts::default());
        assert_eq!(p[1].quarantined["unknown_attribute"], 3);
        assert!(p[0].quarantined.is_empty() && p[2].quarantined.is_empty());
        assert_eq!(p[2].delivered.realtime, 5);
        assert_eq!(
            p[2].decisions,
            BTreeMap::from([("cooldown".into(), 1), ("eligible".into(), 4)])
        );
    }

    #[test]
    fn minutes_outside_one_to_a_day_are_refused() {
        let q = |m| SeriesQuery { minutes: m };
        assert_eq!(q(None).minutes().unwrap(), 15);
        assert_eq!(q(Some(1)).minutes().unwrap(), 1);
        assert_eq!(q(Some(1440)).minutes().unwrap(), 1440);
        for bad in [0, -5, 1441, i64::MAX] {
            assert!(matches!(q(Some(bad)).minutes(), Err(ApiError::Invalid(_))));
        }
    }
}

//! `GET /v1/admin/stats/breakdown`: what `/v1/admin/stats` counts in one number, broken down for
//! the console — open quarantine by reason, hand-overs and queued contacts per campaign, cooldowns
//! running, deferred contacts by when their window opens. Counted in the database (cluster-wide)
//! at each call; the stages' stores own the queries.

use actix_web::{get, web};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Reader;
use crate::platform::http::responses as problems;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(breakdown);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Breakdown {
    /// Open quarantined items per reason, most first.
    pub quarantine_open_by_reason: Vec<QuarantineReasonCount>,
    /// Per campaign with a hand-over in the last 24 h or a contact queued now.
    pub campaigns: Vec<CampaignHandOvers>,
    /// Contacts in their cooldown now (handed over within the thresholds' `cooldown_seconds`).
    pub cooldowns_running: i64,
    /// Deferred (contact, campaign) pairs by when their window opens, soonest first; every bucket
    /// is listed, empty ones with 0.
    pub deferred: Vec<DeferredBucket>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineReasonCount {
    #[schema(example = "unknown_attribute")]
    pub reason: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignHandOvers {
    pub campaign_id: String,
    /// Contacts handed to the dialer in the last 24 hours.
    pub handed_over_24h: i64,
    /// Contacts waiting in the campaign's dialer queue now.
    pub queued: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DeferredBucket {
    /// `due` (the window has opened; the next run takes them), `within_1h`, `within_6h`,
    /// `within_24h` or `later`.
    #[schema(example = "within_1h")]
    pub opens: &'static str,
    pub count: i64,
}

/// The buckets of [`DeferredBucket`] after `due`, each with its end in hours from now.
const HORIZONS: [(&str, i64); 3] = [("within_1h", 1), ("within_6h", 6), ("within_24h", 24)];

/// The bucket bounds of [`HORIZONS`] at `now`: just after now (the run takes a deferral whose
/// opening is at or before now: it is due), then each horizon's end.
pub fn deferral_bounds(now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    std::iter::once(now + TimeDelta::microseconds(1))
        .chain(HORIZONS.iter().map(|(_, h)| now + TimeDelta::hours(*h)))
        .collect()
}

/// Names the store's buckets (index `i` is the `i`-th bound's left; see
/// `evaluation::load::deferrals_by_opening`), every bucket present. Pure.
pub fn deferred_buckets(counts: &[(i32, i64)]) -> Vec<DeferredBucket> {
    let names = std::iter::once("due")
        .chain(HORIZONS.iter().map(|(name, _)| *name))
        .chain(std::iter::once("later"));
    names
        .enumerate()
        .map(|(i, opens)| DeferredBucket {
            opens,
            count: counts
                .iter()
                .filter(|(b, _)| *b as usize == i)
                .map(|(_, n)| n)
                .sum(),
        })
        .collect()
}

/// Open quarantine by reason, hand-overs and queue per campaign, cooldowns running, deferred
/// contacts by when their window opens (all instances, now).
#[utoipa::path(tag = "operations", security(("bearer" = [])),
    responses((status = 200, body = Breakdown), problems::Reads))]
#[get("/v1/admin/stats/breakdown")]
pub async fn breakdown(
    _: Reader,
    state: web::Data<AppState>,
) -> Result<web::Json<Breakdown>, ApiError> {
    let now = state.clock.now();
    let db = &state.reads;
    let (_, t) = crate::registry::thresholds::current(db).await?;
    let cooldown_start = crate::evaluation::cooldown::cooldown_start(now, t.cooldown());
    let bounds = deferral_bounds(now);
    let (reasons, flows, cooldowns, deferred) = tokio::try_join!(
        crate::ingest::quarantine::open_quarantine_by_reason(db),
        crate::dialer::queue::flow_by_campaign(db, now - TimeDelta::hours(24)),
        crate::dialer::queue::contacts_in_cooldown(db, cooldown_start),
        crate::evaluation::load::deferrals_by_opening(db, &bounds),
    )?;
    Ok(web::Json(Breakdown {
        quarantine_open_by_reason: reasons
            .into_iter()
            .map(|(reason, count)| QuarantineReasonCount { reason, count })
            .collect(),
        campaigns: flows
            .into_iter()
            .map(|f| CampaignHandOvers {
                campaign_id: f.campaign_id,
                handed_over_24h: f.handed_over,
                queued: f.queued,
            })
            .collect(),
        cooldowns_running: cooldowns,
        deferred: deferred_buckets(&deferred),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_contacts_are_bucketed_by_when_their_window_opens() {
        let now: DateTime<Utc> = "2026-12-08T10:00:00Z".parse().unwrap();
        let b = deferral_bounds(now);
        assert_eq!(b.len(), HORIZONS.len() + 1);
        assert!(b[0] > now && b[0] - now == TimeDelta::microseconds(1));
        assert_eq!(b[3], now + TimeDelta::hours(24));
        // Bucket 0: before now (due); 4: a day away or more.
        let got = deferred_buckets(&[(0, 2), (2, 5), (4, 1)]);
        let shown: Vec<(&str, i64)> = got.iter().map(|d| (d.opens, d.count)).collect();
        assert_eq!(
            shown,
            [
                ("due", 2),
                ("within_1h", 0),
                ("within_6h", 5),
                ("within_24h", 0),
                ("later", 1)
            ]
        );
    }
}

//! `GET /v1/dialer/feed` and `POST /v1/dialer/feed/ack` (SPEC §7 "Pull"). Both change state (a
//! lease hides contacts from other callers), so both need the admin token; the viewer token gets 403.

use actix_web::{get, post, web};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contact::{DialerContact, MAX_CONTACTS_PER_PUSH};
use super::feed::{self, AckStatus};
use crate::eligibility::Mode;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::Writer;
use crate::platform::http::document::parse_document;
use crate::platform::http::responses as problems;
use crate::registry::campaigns;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(lease_feed).service(ack_feed);
}

/// How long a lease lasts (`PESYNC_FEED_LEASE_SECONDS`, default 5 min).
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings {
    pub lease: TimeDelta,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            lease: TimeDelta::minutes(5),
        }
    }
}

/// Most contacts per lease or acknowledgement.
pub const MAX_FEED_ITEMS: usize = MAX_CONTACTS_PER_PUSH;
const DEFAULT_FEED_LIMIT: i64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The campaign (in `pull` mode) to lease from.
    pub campaign: String,
    /// At most this many contacts, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedLease {
    /// The leased contacts, in the shape pushed to the dialer.
    pub items: Vec<DialerContact>,
    /// Acknowledge them before this instant, or they return to the feed.
    pub lease_until: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// The `id`s of leased contacts.
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AckResult {
    pub index: usize,
    pub id: String,
    pub status: AckStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AckResponse {
    pub results: Vec<AckResult>,
}

/// Lease up to `limit` ready contacts of a pull campaign for the lease time.
#[utoipa::path(tag = "dialer", security(("bearer" = [])),
    params(FeedQuery),
    responses((status = 200, body = FeedLease),
        problems::Writes, problems::Query, problems::NotFound, problems::Conflict))]
#[get("/v1/dialer/feed")]
pub async fn lease_feed(
    _: Writer,
    state: web::Data<AppState>,
    settings: Option<web::Data<FeedSettings>>,
    query: web::Query<FeedQuery>,
) -> Result<web::Json<FeedLease>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_FEED_LIMIT);
    if !(1..=MAX_FEED_ITEMS as i64).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be 1–{MAX_FEED_ITEMS}, got {limit}"),
        ));
    }
    let campaign = campaigns::find(&state.pool, &query.campaign)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no campaign with id {:?}", query.campaign)))?;
    if campaign.mode != Mode::Pull {
        return Err(ApiError::Conflict(format!(
            "campaign {:?} is in push mode: its contacts are pushed to the dialer, not leased",
            campaign.id
        )));
    }
    let lease = settings
        .map(|s| s.lease)
        .unwrap_or(FeedSettings::default().lease);
    let mut tx = state.pool.begin().await?;
    let (rows, lease_until) =
        feed::lease(&mut tx, &campaign.id, state.clock.now(), lease, limit).await?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<Vec<DialerContact>, _>>()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(web::Json(FeedLease { items, lease_until }))
}

/// Acknowledge leased contacts by `id`: they are handed over and their cooldown starts. One result
/// per id, in request order.
#[utoipa::path(tag = "dialer", security(("bearer" = [])),
    request_body = AckRequest,
    responses((status = 200, body = AckResponse), problems::Writes, problems::Document))]
#[post("/v1/dialer/feed/ack")]
pub async fn ack_feed(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<web::Json<AckResponse>, ApiError> {
    let req: AckRequest = parse_document(&body)?;
    if req.ids.len() > MAX_FEED_ITEMS {
        return Err(ApiError::invalid(
            "ids",
            format!("at most {MAX_FEED_ITEMS} ids per call"),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let statuses = feed::acknowledge(&mut tx, &req.ids, state.clock.now()).await?;
    tx.commit().await?;
    let results = req
        .ids
        .into_iter()
        .zip(statuses)
        .enumerate()
        .map(|(index, (id, status))| AckResult { index, id, status })
        .collect();
    Ok(web::Json(AckResponse { results }))
}

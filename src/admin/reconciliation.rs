//! `GET /v1/admin/reconciliation`, `POST …/release`, `POST …/discard` (SPEC §8): events dated more
//! than the future tolerance ahead wait here for an operator. Release sends them on: they compete
//! for their dedup key then (they never claimed it while parked) and go to the lane their timestamp
//! calls for now.

use std::collections::HashSet;

use actix_web::{get, post, web};
use uuid::Uuid;

use super::{IdsRequest, parse_document};
use crate::delivery::{Lane, queue};
use crate::ingest::admit;
use crate::ingest::outcome::{EventResult, Results, Status};
use crate::ingest::reconciliation::{self, Parked, ReconciliationItem};
use crate::normalize::TimeRules;
use crate::normalize::time;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::{Reader, Writer};
use crate::platform::http::page::{Page, PageQuery};
use crate::platform::http::responses as problems;
use crate::registry;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_reconciliation)
        .service(release_reconciliation)
        .service(discard_reconciliation);
}

/// Future-dated events waiting for a decision, oldest first.
#[utoipa::path(tag = "reconciliation", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<ReconciliationItem>), problems::Reads, problems::Query))]
#[get("/v1/admin/reconciliation")]
pub async fn list_reconciliation(
    _: Reader,
    state: web::Data<AppState>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<Page<ReconciliationItem>>, ApiError> {
    let limit = page.limit()?;
    let rows = reconciliation::parked_page(&state.reads, page.after()?, limit + 1).await?;
    Ok(web::Json(Page::from_rows(rows, limit)))
}

async fn lock_parked(
    tx: &mut sqlx::PgConnection,
    req: &IdsRequest,
) -> Result<Vec<(Uuid, Option<Parked>)>, ApiError> {
    let ids = req.named_ids("reconciliation items")?;
    let rows = reconciliation::lock_parked(tx, ids).await?;
    Ok(super::in_named_order(ids, rows, |r| r.id))
}

/// Send parked events on to delivery.
#[utoipa::path(tag = "reconciliation", security(("bearer" = [])),
    request_body = IdsRequest,
    responses((status = 200, body = Results), problems::Writes, problems::Document))]
#[post("/v1/admin/reconciliation/release")]
pub async fn release_reconciliation(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<Results, ApiError> {
    let req: IdsRequest = parse_document(&body)?;
    // A deadlock with ingestion or delivery over the same rows rolls the whole transaction back:
    // it runs again (see `db::retry`).
    crate::platform::db::retry::retry_conflicts(|| release_items(&state, &req)).await
}

/// The release, in one transaction.
async fn release_items(state: &AppState, req: &IdsRequest) -> Result<Results, ApiError> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let items = lock_parked(&mut tx, req).await?;
    let (_, thresholds) = registry::thresholds::current(&mut *tx).await?;

    let contenders: Vec<([u8; 32], Uuid)> = items
        .iter()
        .filter_map(|(_, p)| p.as_ref())
        .filter_map(|p| {
            <[u8; 32]>::try_from(p.dedup_key.as_slice())
                .ok()
                .map(|k| (k, p.id))
        })
        .collect();
    let won = admit::claim_winners(&mut tx, contenders.iter().copied(), now, &thresholds).await?;
    let winners: HashSet<Uuid> = contenders
        .iter()
        .zip(won)
        .filter_map(|(&(_, id), won)| won.then_some(id))
        .collect();
    // A released item is no longer a future one (the operator vouched for it): real-time or, by
    // age, backfill; never back to reconciliation.
    let rules = TimeRules {
        future_tolerance: chrono::Duration::MAX,
        ..TimeRules::from_seconds(thresholds.backfill_age_seconds, 0)
    };
    let hold = thresholds.ordering_hold();
    let mut results = Vec::with_capacity(items.len());
    let mut enqueue = Vec::new();
    for (index, (id, parked)) in items.into_iter().enumerate() {
        let mut r = EventResult::new(index, Status::NotFound);
        r.id = Some(id);
        if let Some(p) = parked {
            r.request_id = Some(p.request_id);
            if winners.contains(&p.id) {
                let lane = admit::lane_of(time::route(p.event_timestamp, now, &rules))
                    .unwrap_or(Lane::Realtime);
                reconciliation::release(&mut tx, p.id, lane, now).await?;
                r.status = if lane == Lane::Backfill {
                    Status::Backfill
                } else {
                    Status::Accepted
                };
                r.event_id = Some(p.id);
                enqueue.push((p.contact_id, lane, now + hold));
            } else {
                reconciliation::discard(&mut tx, p.id, "duplicate").await?;
                r.status = Status::Duplicate;
            }
        }
        results.push(r);
    }
    queue::enqueue(&mut tx, enqueue).await?;
    tx.commit().await?;
    Ok(Results { results })
}

/// Drop parked events for good.
#[utoipa::path(tag = "reconciliation", security(("bearer" = [])),
    request_body = IdsRequest,
    responses((status = 200, body = Results), problems::Writes, problems::Document))]
#[post("/v1/admin/reconciliation/discard")]
pub async fn discard_reconciliation(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<Results, ApiError> {
    let req: IdsRequest = parse_document(&body)?;
    let mut tx = state.pool.begin().await?;
    let items = lock_parked(&mut tx, &req).await?;
    let mut results = Vec::with_capacity(items.len());
    for (index, (id, parked)) in items.into_iter().enumerate() {
        let mut r = EventResult::new(index, Status::NotFound);
        r.id = Some(id);
        if let Some(p) = parked {
            reconciliation::discard(&mut tx, p.id, "discarded").await?;
            r.status = Status::Discarded;
            r.event_id = Some(p.id);
        }
        results.push(r);
    }
    tx.commit().await?;
    Ok(Results { results })
}

//! `GET /v1/admin/dead-letters`, `POST /v1/admin/dead-letters/replay` (SPEC §8): events PE refused
//! with a 4xx. Replay puts the event back in its lane; the late-arrival rule applies to it as to any
//! event (SPEC §11.9).

use actix_web::{get, post, web};

use super::{IdsRequest, parse_document};
use crate::delivery::dead_letters::{self, DeadLetter};
use crate::delivery::{Lane, queue};
use crate::ingest::outcome::{EventResult, Results, Status};
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::{Reader, Writer};
use crate::platform::http::page::{Page, PageQuery};
use crate::platform::http::responses as problems;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_dead_letters).service(replay_dead_letters);
}

/// Open dead letters, oldest first.
#[utoipa::path(tag = "dead-letters", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<DeadLetter>), problems::Reads, problems::Query))]
#[get("/v1/admin/dead-letters")]
pub async fn list_dead_letters(
    _: Reader,
    state: web::Data<AppState>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<Page<DeadLetter>>, ApiError> {
    let limit = page.limit()?;
    let rows = dead_letters::open_page(&state.reads, page.after()?, limit + 1).await?;
    Ok(web::Json(Page::from_rows(rows, limit)))
}

/// Put dead-lettered events back into their lane.
#[utoipa::path(tag = "dead-letters", security(("bearer" = [])),
    request_body = IdsRequest,
    responses((status = 200, body = Results), problems::Writes, problems::Document))]
#[post("/v1/admin/dead-letters/replay")]
pub async fn replay_dead_letters(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<Results, ApiError> {
    let req: IdsRequest = parse_document(&body)?;
    // A deadlock with ingestion or delivery over the same rows rolls the whole transaction back:
    // it runs again (see `db::retry`).
    crate::platform::db::retry::retry_conflicts(|| replay_items(&state, &req)).await
}

/// The replay, in one transaction.
async fn replay_items(state: &AppState, req: &IdsRequest) -> Result<Results, ApiError> {
    let ids = req.named_ids("dead letters")?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let rows = dead_letters::lock_open(&mut tx, ids).await?;
    let mut results = Vec::with_capacity(ids.len());
    let mut enqueue = Vec::new();
    let mut replayed = Vec::new();
    let mut events = Vec::new();
    for (index, (id, open)) in super::in_named_order(ids, rows, |r| r.id)
        .into_iter()
        .enumerate()
    {
        let mut r = EventResult::new(index, Status::NotFound);
        r.id = Some(id);
        if let Some(d) = open {
            let lane = d.lane();
            r.status = if lane == Lane::Backfill {
                Status::Backfill
            } else {
                Status::Accepted
            };
            r.event_id = Some(d.event_id);
            r.request_id = Some(d.request_id);
            enqueue.push((d.contact_id, lane, now));
            replayed.push(d.id);
            events.push(d.event_id);
        }
        results.push(r);
    }
    dead_letters::mark_replayed(&mut tx, &replayed, &events, now).await?;
    queue::enqueue(&mut tx, enqueue).await?;
    tx.commit().await?;
    Ok(Results { results })
}

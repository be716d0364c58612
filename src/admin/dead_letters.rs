//! `GET /v1/admin/dead-letters`, `POST /v1/admin/dead-letters/replay` (SPEC §8): events PE refused
//! with a 4xx. Replay puts the event back in its lane; the late-arrival rule applies to it as to any
//! event (SPEC §11.9).

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{IdsRequest, parse_document};
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

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetter {
    pub id: Uuid,
    pub event_id: Uuid,
    pub contact_id: String,
    pub request_id: Uuid,
    /// The HTTP status PE answered.
    pub status: i32,
    pub response_body: String,
    pub failed_at: DateTime<Utc>,
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
    let rows = sqlx::query!(
        r#"SELECT seq, id, event_id, contact_id, request_id, status, response_body, failed_at
           FROM dead_letters WHERE state = 'open' AND seq > $1 ORDER BY seq LIMIT $2"#,
        page.after()?,
        limit + 1
    )
    .fetch_all(&state.reads)
    .await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            (
                r.seq,
                DeadLetter {
                    id: r.id,
                    event_id: r.event_id,
                    contact_id: r.contact_id,
                    request_id: r.request_id,
                    status: r.status,
                    response_body: r.response_body,
                    failed_at: r.failed_at,
                },
            )
        })
        .collect();
    Ok(web::Json(Page::from_rows(rows, limit)))
}

struct Open {
    id: Uuid,
    event_id: Uuid,
    contact_id: String,
    request_id: Uuid,
    lane: Option<String>,
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
) -> Result<web::Json<Results>, ApiError> {
    let req: IdsRequest = parse_document(&body)?;
    // A deadlock with ingestion or delivery over the same rows rolls the whole transaction back:
    // it runs again (see `db::retry`).
    crate::platform::db::retry::retry_conflicts(|| replay_items(&state, &req))
        .await
        .map(web::Json)
}

/// The replay, in one transaction.
async fn replay_items(state: &AppState, req: &IdsRequest) -> Result<Results, ApiError> {
    let ids = req.named_ids("dead letters")?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let rows = sqlx::query_as!(
        Open,
        r#"SELECT d.id, d.event_id, d.contact_id, d.request_id, e.lane
           FROM dead_letters d JOIN events e ON e.id = d.event_id
           WHERE d.state = 'open' AND d.id = ANY($1) ORDER BY d.id FOR UPDATE OF d, e"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await?;
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
            let lane = d
                .lane
                .as_deref()
                .and_then(Lane::parse)
                .unwrap_or(Lane::Realtime);
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
    sqlx::query!(
        "UPDATE events SET state = 'pending' WHERE id = ANY($1) AND state = 'dead_letter'",
        &events
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE dead_letters SET state = 'replayed', replayed_at = $2 WHERE id = ANY($1)",
        &replayed,
        now
    )
    .execute(&mut *tx)
    .await?;
    queue::enqueue(&mut tx, enqueue).await?;
    tx.commit().await?;
    Ok(Results { results })
}

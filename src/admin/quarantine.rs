//! `GET /v1/admin/quarantine`, `POST …/replay`, `POST …/discard` (SPEC §8). Replay runs the whole
//! ingestion pipeline again with the source's current mapping and the active manifest, dedup
//! included; an item that fails again stays in the quarantine with its new reason.

use std::collections::BTreeMap;

use actix_web::{get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{MAX_ITEMS_PER_CALL, QuarantineRequest, parse_document};
use crate::ingest::admit::{self, Admission};
use crate::ingest::cdc::{self, ChangePlan};
use crate::ingest::outcome::{EventResult, Results, Status};
use crate::ingest::plan::{Documents, Planned};
use crate::ingest::quarantine::{self, OpenItem, QuarantinedItem};
use crate::ingest::store::Versions;
use crate::normalize::QuarantineReason;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::{Reader, Writer};
use crate::platform::http::page::{Page, PageQuery};
use crate::platform::http::responses as problems;
use crate::registry;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_quarantine)
        .service(replay_quarantine)
        .service(discard_quarantine);
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReasonFilter {
    /// Only items quarantined for this reason code (another is a 400: it would always list nothing).
    pub reason: Option<QuarantineReason>,
}

/// Open quarantined items, oldest first.
#[utoipa::path(tag = "quarantine", security(("bearer" = [])),
    params(PageQuery, ReasonFilter),
    responses((status = 200, body = Page<QuarantinedItem>), problems::Reads, problems::Query))]
#[get("/v1/admin/quarantine")]
pub async fn list_quarantine(
    _: Reader,
    state: web::Data<AppState>,
    page: web::Query<PageQuery>,
    filter: web::Query<ReasonFilter>,
) -> Result<web::Json<Page<QuarantinedItem>>, ApiError> {
    let limit = page.limit()?;
    let rows = quarantine::open_page(&state.reads, page.after()?, filter.reason, limit + 1).await?;
    Ok(web::Json(Page::from_rows(rows, limit)))
}

/// Locks the open items named by `ids` (in that order) or by `reason` (oldest first, at most 1,000).
async fn lock_open(
    tx: &mut sqlx::PgConnection,
    req: &QuarantineRequest,
) -> Result<Vec<(Option<Uuid>, Option<OpenItem>)>, ApiError> {
    super::check_ids(&req.ids)?;
    if req.ids.is_empty() && req.reason.is_none() {
        return Err(ApiError::invalid("ids", "give `ids` or `reason`"));
    }
    let limit = (MAX_ITEMS_PER_CALL + req.ids.len()) as i64;
    let rows = quarantine::lock_open(tx, &req.ids, req.reason, limit).await?;
    // Named ids first, in the caller's order (a missing one answers not_found), then the reason's,
    // oldest first.
    let wanted: std::collections::HashSet<&Uuid> = req.ids.iter().collect();
    let (named, rest): (Vec<OpenItem>, Vec<OpenItem>) =
        rows.into_iter().partition(|r| wanted.contains(&r.id));
    let mut out: Vec<(Option<Uuid>, Option<OpenItem>)> =
        super::in_named_order(&req.ids, named, |r| r.id)
            .into_iter()
            .map(|(id, item)| (Some(id), item))
            .collect();
    out.extend(
        rest.into_iter()
            .take(MAX_ITEMS_PER_CALL)
            .map(|r| (Some(r.id), Some(r))),
    );
    Ok(out)
}

fn not_found(index: usize, id: Option<Uuid>) -> EventResult {
    let mut r = EventResult::new(index, Status::NotFound);
    r.id = id;
    r
}

/// Replay quarantined items through the whole pipeline (after a mapping or manifest fix).
#[utoipa::path(tag = "quarantine", security(("bearer" = [])),
    request_body = QuarantineRequest,
    responses((status = 200, body = Results), problems::Writes, problems::Document))]
#[post("/v1/admin/quarantine/replay")]
pub async fn replay_quarantine(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<Results, ApiError> {
    let req: QuarantineRequest = parse_document(&body)?;
    // A deadlock with ingestion or delivery over the same rows rolls the whole transaction back:
    // it runs again (see `db::retry`).
    crate::platform::db::retry::retry_conflicts(|| replay_items(&state, &req)).await
}

/// Events to admit, by source (each has its own mapping version): (answer index, item, plan).
type Admits = BTreeMap<String, Vec<(usize, Uuid, Planned)>>;

/// The sources the items name, each read once per replay.
type Sources = BTreeMap<String, Option<registry::sources::Source>>;

/// The replay, in one transaction.
async fn replay_items(state: &AppState, req: &QuarantineRequest) -> Result<Results, ApiError> {
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let items = lock_open(&mut tx, req).await?;
    let (manifest_version, manifest) = registry::manifests::active(&mut *tx).await?;
    let (_, thresholds) = registry::thresholds::current(&mut *tx).await?;

    let mut results: Vec<EventResult> = Vec::with_capacity(items.len());
    let mut admits = Admits::new();
    let mut sources = Sources::new();
    let mut skipped: Vec<Uuid> = Vec::new();
    for (index, (id, item)) in items.into_iter().enumerate() {
        let Some(item) = item else {
            results.push(not_found(index, id));
            continue;
        };
        if !sources.contains_key(&item.source) {
            let s = registry::sources::find(&mut *tx, &item.source).await?;
            sources.insert(item.source.clone(), s);
        }
        let Some(source) = sources[&item.source].as_ref() else {
            results.push(not_found(index, id));
            continue;
        };
        let reg = Documents {
            source: &source.name,
            mapping: &source.mapping,
            manifest: &manifest,
            thresholds: &thresholds,
        };
        results.push(not_found(index, id)); // replaced below
        match item.replan(&reg, now) {
            // The mapping now ignores it (say, deletes): resolved, nothing to ingest.
            ChangePlan::Skipped(skip) => {
                results[index] = cdc::skipped(index, skip);
                results[index].id = Some(item.id);
                skipped.push(item.id);
            }
            ChangePlan::Planned(Planned::Quarantine { reason, detail, .. }) => {
                // Still failing: the item stays where it is, with the reason it fails for now.
                quarantine::still_failing(&mut tx, item.id, reason, &detail).await?;
                let r = &mut results[index];
                r.status = Status::Quarantined;
                r.reason = Some(reason.as_str().to_owned());
                r.detail = Some(detail);
            }
            ChangePlan::Planned(planned) => admits
                .entry(item.source.clone())
                .or_default()
                .push((index, item.id, planned)),
        }
    }
    quarantine::mark_replayed(&mut tx, &skipped, now).await?;
    let versions = |source: &registry::sources::Source| Versions {
        mapping: source.mapping_version,
        manifest: manifest_version,
    };
    for (source_name, batch) in admits {
        let source = sources[&source_name].as_ref().expect("looked up above");
        let adm = Admission {
            source: &source.name,
            versions: versions(source),
            thresholds: &thresholds,
            now,
        };
        admit_batch(&mut tx, batch, &adm, &mut results).await?;
    }
    tx.commit().await?;
    state.delivery_inbox.notify_one();
    Ok(Results { results })
}

/// Admits one source's re-planned items and writes their answers at their indexes.
async fn admit_batch(
    tx: &mut sqlx::PgConnection,
    batch: Vec<(usize, Uuid, Planned)>,
    adm: &Admission<'_>,
    results: &mut [EventResult],
) -> Result<(), ApiError> {
    let ids: Vec<Uuid> = batch.iter().map(|(_, id, _)| *id).collect();
    let (indexes, planned): (Vec<usize>, Vec<Planned>) =
        batch.into_iter().map(|(i, _, p)| (i, p)).unzip();
    let admitted = admit::admit(tx, planned, adm).await?;
    for ((index, id), mut r) in indexes.into_iter().zip(&ids).zip(admitted) {
        r.index = index;
        r.id = Some(*id);
        results[index] = r;
    }
    quarantine::mark_replayed(tx, &ids, adm.now).await?;
    Ok(())
}

/// Discard quarantined items for good.
#[utoipa::path(tag = "quarantine", security(("bearer" = [])),
    request_body = QuarantineRequest,
    responses((status = 200, body = Results), problems::Writes, problems::Document))]
#[post("/v1/admin/quarantine/discard")]
pub async fn discard_quarantine(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<Results, ApiError> {
    let req: QuarantineRequest = parse_document(&body)?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let items = lock_open(&mut tx, &req).await?;
    let mut results = Vec::with_capacity(items.len());
    let mut ids = Vec::new();
    for (index, (id, item)) in items.into_iter().enumerate() {
        match item {
            Some(item) => {
                let mut r = EventResult::new(index, Status::Discarded);
                r.id = Some(item.id);
                r.reason = Some(item.reason);
                ids.push(item.id);
                results.push(r);
            }
            None => results.push(not_found(index, id)),
        }
    }
    quarantine::mark_discarded(&mut tx, &ids, now).await?;
    tx.commit().await?;
    Ok(Results { results })
}

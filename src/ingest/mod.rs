//! The ingestion stage (SPEC §2): signed HTTP intake, body splitting, normalization, dedup and the
//! durable write, all committed before the answer.

pub mod admit;
pub mod auth;
pub mod body;
pub mod cdc;
pub mod check;
pub mod metrics;
pub mod outcome;
pub mod plan;
pub mod quarantine;
pub mod reconciliation;
pub mod signature;
pub mod store;

use actix_web::{HttpRequest, post, web};

use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::responses as problems;
use crate::registry;
use admit::Admission;
use outcome::Results;
use plan::Documents;
use store::Versions;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(ingest_events).service(cdc::ingest_changes);
}

/// Receive events from a source.
///
/// The body is one event object, a JSON array of events, or NDJSON (`application/x-ndjson`), at most
/// 1,000 events and 5 MiB, sent uncompressed. Every request is signed: `X-Pesync-Signature:
/// t=<unix seconds>,v1=<hex>`, HMAC-SHA256 with the source's signing secret over `"<t>." + raw body`
/// (at most 5 `v1` entries, e.g. an old and a new secret while rotating), or carries the source's
/// bearer token (`Authorization: Bearer <token>`). The answer lists one result per event, in request
/// order; everything in it is committed before it is sent.
#[utoipa::path(
    tag = "ingestion",
    params(("source" = String, Path, description = "Configured source name")),
    request_body(description = "An event, an array of events, or NDJSON", content(
        (serde_json::Value = "application/json"),
        (String = "application/x-ndjson"))),
    responses(
        (status = 200, description = "One result per event", body = Results),
        problems::IngestErrors,
    )
)]
#[post("/v1/sources/{source}/events")]
pub async fn ingest_events(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<Results, ApiError> {
    let now = state.clock.now();
    let source = authenticated_source(&state, &path.into_inner(), &req, &body, now).await?;

    let items = body::from_request(&req, &body, body::MAX_EVENTS, "events")?;
    if items.is_empty() {
        return Ok(Results { results: vec![] });
    }

    // A deadlock with a concurrent batch (say, the same dedup keys in another order) rolls the
    // whole transaction back: running it again is safe, and a sender should not see it.
    let results =
        crate::platform::db::retry::retry_conflicts(|| store_items(&state, &source, &items, now))
            .await?;
    crate::ingest::metrics::INTAKE.received(results.len() as u64);
    Ok(Results { results })
}

/// The source a request names, once the request is authenticated for it (404, 401). Authentication
/// comes before looking at the body at all: nothing is stored for a bad signature.
pub(crate) async fn authenticated_source(
    state: &AppState,
    name: &str,
    req: &HttpRequest,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<registry::sources::Source, ApiError> {
    let source = registry::sources::find(&state.pool, name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no source named {name:?}")))?;
    auth::authenticate(&state.pool, &state.secret_key, &source, req, body, now).await?;
    Ok(source)
}

/// Plans and stores the events of one request in one transaction.
async fn store_items(
    state: &AppState,
    source: &registry::sources::Source,
    items: &[body::Item],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<outcome::EventResult>, ApiError> {
    admit_planned(state, source, now, |reg| {
        items
            .iter()
            .map(|item| plan::plan(item, reg, now))
            .collect()
    })
    .await
}

/// Plans items with `plan` and admits them, in one transaction. The manifest and thresholds are
/// read in that transaction, so the versions recorded are the ones actually used. Shared by the
/// events and the CDC endpoints, so a change is admitted exactly as an event is.
pub(crate) async fn admit_planned(
    state: &AppState,
    source: &registry::sources::Source,
    now: chrono::DateTime<chrono::Utc>,
    plan: impl Fn(&Documents<'_>) -> Vec<plan::Planned>,
) -> Result<Vec<outcome::EventResult>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let (manifest_version, manifest) = registry::manifests::active(&mut *tx).await?;
    let (_, thresholds) = registry::thresholds::current(&mut *tx).await?;
    let reg = Documents {
        source: &source.name,
        mapping: &source.mapping,
        manifest: &manifest,
        thresholds: &thresholds,
    };
    let planned = plan(&reg);
    let adm = Admission {
        source: &source.name,
        versions: Versions {
            mapping: source.mapping_version,
            manifest: manifest_version,
        },
        thresholds: &thresholds,
        now,
    };
    let results = admit::admit(&mut tx, planned, &adm).await?;
    tx.commit().await?;
    state.delivery_inbox.notify_one();
    Ok(results)
}

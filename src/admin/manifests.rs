//! `GET/POST /v1/admin/manifests`, `POST /v1/admin/manifests/{version}/activate` (SPEC §8, §11.18).

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use std::time::Duration;

use super::parse_document;
use crate::admin::tenant::Tenant;
use crate::genesys::{self, EventsTarget, org::Org};
use crate::normalize::manifest::Manifest;
use crate::platform::context::AppState;
use crate::platform::db::lock::{JobLock, ORG_SYNC};
use crate::platform::http::ApiError;
use crate::platform::http::auth::{Reader, Writer};
use crate::platform::http::problem::FieldProblem;
use crate::platform::http::responses as problems;
use crate::registry::changes;
use crate::registry::manifests as store;
use crate::setup::{self, SyncError};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_manifests)
        .service(create_manifest)
        .service(activate_manifest);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestView {
    pub version: i32,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestList {
    pub items: Vec<ManifestView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestCreated {
    pub version: i32,
    pub active: bool,
}

/// Every manifest version, oldest first; exactly one is active.
#[utoipa::path(tag = "manifests", security(("bearer" = [])),
    responses((status = 200, body = ManifestList), problems::Reads))]
#[get("/v1/admin/manifests")]
pub async fn list_manifests(
    _: Reader,
    state: web::Data<AppState>,
) -> Result<web::Json<ManifestList>, ApiError> {
    let items = store::list(&state.reads)
        .await?
        .into_iter()
        .map(|m| ManifestView {
            version: m.version,
            active: m.active,
            created_at: m.created_at,
            activated_at: m.activated_at,
            document: m.document,
        })
        .collect();
    Ok(web::Json(ManifestList { items }))
}

/// Store a complete manifest as the next version, inactive until activated.
#[utoipa::path(tag = "manifests", security(("bearer" = [])),
    request_body = Manifest,
    responses((status = 201, body = ManifestCreated), problems::Writes, problems::Document))]
#[post("/v1/admin/manifests")]
pub async fn create_manifest(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<actix_web::HttpResponse, ApiError> {
    let manifest: Manifest = parse_document(&body)?;
    let problems = manifest.validate();
    if !problems.is_empty() {
        return Err(ApiError::Invalid(
            problems
                .into_iter()
                .map(|m| FieldProblem::new("event_types", m))
                .collect(),
        ));
    }
    let mut tx = state.pool.begin().await?;
    let version = store::create(&mut tx, &manifest, state.clock.now()).await?;
    tx.commit().await?;
    Ok(actix_web::HttpResponse::Created().json(ManifestCreated {
        version,
        active: false,
    }))
}

/// Make a manifest version the active one. Takes no body. While events go through External
/// Events (`PESYNC_GENESYS_EVENTS=external-events`) and the org is set up, the org's schemas are
/// first brought to the manifest (`pesync genesys setup`'s code): what Genesys Cloud would refuse
/// is 422 naming the attribute, an outage 503, and either way nothing is activated. An activation
/// is recorded in the change log and opens a score stability watch (`GET /v1/admin/changes`).
#[utoipa::path(tag = "manifests", security(("bearer" = [])),
    params(("version" = i32, Path)),
    responses((status = 200, body = ManifestCreated), problems::Writes, problems::NotFound,
        problems::Conflict, problems::GenesysSync))]
#[post("/v1/admin/manifests/{version}/activate")]
pub async fn activate_manifest(
    who: Writer,
    state: web::Data<AppState>,
    tenant: web::Data<Tenant>,
    version: web::Path<i32>,
) -> Result<web::Json<ManifestCreated>, ApiError> {
    let version = version.into_inner();
    // One change of the org at a time (setup or another activation, on any instance).
    let lock = JobLock::try_acquire(&state.pool, ORG_SYNC)
        .await?
        .ok_or_else(|| ApiError::Conflict(setup::BUSY.into()))?;
    let result = activate_following_org(&state, &tenant, version, &who).await;
    lock.release().await;
    result?;
    Ok(web::Json(ManifestCreated {
        version,
        active: true,
    }))
}

async fn activate_following_org(
    state: &AppState,
    tenant: &Tenant,
    version: i32,
    who: &Writer,
) -> Result<(), ApiError> {
    let org = follow_in_org(state, tenant, version).await?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let before = store::active_version(&mut *tx).await?;
    if !store::activate(&mut tx, version, now).await? {
        return Err(not_found(version));
    }
    if before != Some(version) {
        let change = changes::NewChange {
            kind: changes::Kind::Manifest,
            name: "manifest",
            action: changes::Action::Activated,
            from_version: before,
            to_version: Some(version),
            who: super::changed_by(who),
            at: now,
        };
        super::record_change(&mut tx, state, change).await?;
    }
    if let Some(org) = &org {
        genesys::org::save(&mut tx, org).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn not_found(version: i32) -> ApiError {
    ApiError::NotFound(format!("no manifest version {version}"))
}

/// Brings the org's schemas and configurations to manifest `version` when events go there,
/// answering the org to store with the activation; `None` when there is nothing to follow (the
/// `pe` target, no tenant, setup not run against this org).
async fn follow_in_org(
    state: &AppState,
    tenant: &Tenant,
    version: i32,
) -> Result<Option<Org>, ApiError> {
    let client = match &tenant.client {
        Some(client) if tenant.target == EventsTarget::ExternalEvents => client,
        _ => return Ok(None),
    };
    let stored = {
        let mut db = state.pool.acquire().await?;
        genesys::org::load(&mut db).await?
    };
    let Ok(stored) = genesys::org::readiness(stored.as_ref(), &client.config().base_url) else {
        return Ok(None);
    };
    let manifest = store::get(&state.pool, version)
        .await?
        .ok_or_else(|| not_found(version))?;
    let division = client.config().division_id.clone();
    let options = setup::Options {
        source_name: stored.external_source_name.clone(),
        division_id: division
            .or(Some(stored.division_id.clone()))
            .filter(|d| !d.is_empty()),
        dry_run: false,
        // An operator waits for the answer: a short retry, then 503 to try again later.
        attempts: 3,
        max_wait: Duration::from_secs(5),
    };
    match setup::sync(client, &manifest, &options, state.clock.now()).await {
        Ok(synced) => Ok(synced.org),
        Err(e) => Err(not_activated(version, e)),
    }
}

/// The answer to an activation the org could not follow: 422 for what Genesys refuses, else 503.
fn not_activated(version: i32, error: SyncError) -> ApiError {
    let detail = format!("manifest version {version} was not activated: {error}");
    let problems = |refusals: Vec<setup::Refusal>| -> Vec<FieldProblem> {
        refusals
            .into_iter()
            .map(|r| FieldProblem::new(r.field, r.message))
            .collect()
    };
    match error {
        SyncError::Refused(refusals) => ApiError::GenesysRefused(detail, problems(refusals)),
        SyncError::Rejected {
            fields, message, ..
        } => {
            let mut errors = problems(fields);
            if errors.is_empty() {
                errors.push(FieldProblem::new("event_types", message));
            }
            ApiError::GenesysRefused(detail, errors)
        }
        SyncError::Failed { .. } => {
            tracing::warn!(%detail, "Genesys Cloud did not answer during a manifest activation");
            ApiError::GenesysUnavailable(detail)
        }
    }
}

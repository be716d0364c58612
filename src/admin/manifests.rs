//! `GET/POST /v1/admin/manifests`, `POST /v1/admin/manifests/{version}/activate` (SPEC §8, §11.18).

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::parse_document;
use crate::context::AppState;
use crate::http::ApiError;
use crate::http::auth::{Reader, Writer};
use crate::http::problem::FieldProblem;
use crate::http::responses as problems;
use crate::normalize::manifest::Manifest;
use crate::registry::manifests as store;

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

/// Make a manifest version the active one. Takes no body.
#[utoipa::path(tag = "manifests", security(("bearer" = [])),
    params(("version" = i32, Path)),
    responses((status = 200, body = ManifestCreated), problems::Writes, problems::NotFound))]
#[post("/v1/admin/manifests/{version}/activate")]
pub async fn activate_manifest(
    _: Writer,
    state: web::Data<AppState>,
    version: web::Path<i32>,
) -> Result<web::Json<ManifestCreated>, ApiError> {
    let version = version.into_inner();
    let mut tx = state.pool.begin().await?;
    if !store::activate(&mut tx, version, state.clock.now()).await? {
        return Err(ApiError::NotFound(format!("no manifest version {version}")));
    }
    tx.commit().await?;
    Ok(web::Json(ManifestCreated {
        version,
        active: true,
    }))
}

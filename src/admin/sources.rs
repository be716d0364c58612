//! `GET/PUT /v1/admin/sources/{name}`, `GET /v1/admin/sources` (SPEC §6, §8). The signing secret is
//! write-only: no answer ever contains it.

use actix_web::{get, put, web};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::check::CheckAnswer;
use super::parse_document;
use crate::domain::ids::SourceName;
use crate::normalize::mapping::Mapping;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::{Reader, Writer};
use crate::platform::http::problem::FieldProblem;
use crate::platform::http::responses as problems;
use crate::registry::changes::{Action, Kind, NewChange};
use crate::registry::sources as store;
use crate::retention::Policy;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_sources)
        .service(get_source)
        .service(put_source);
}

/// Shortest signing secret we accept: HMAC keys shorter than this are guessable.
pub const MIN_SECRET_LEN: usize = 16;

// `Debug` shows no secret: `SecretString` prints as redacted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceDocument {
    /// At least 16 characters. Required, except in a dry run (`?dry_run=true`), which stores
    /// nothing.
    #[schema(value_type = Option<String>, min_length = 16)]
    #[serde(default)]
    pub signing_secret: Option<SecretString>,
    #[serde(default)]
    pub mapping: Mapping,
    /// Optional, at least 32 characters: accepted instead of a signature on this source's `/events`
    /// and `/cdc` (`Authorization: Bearer <token>`), for senders such as Debezium Server that add a
    /// static header but cannot sign. Write-only and stored sealed like the signing secret; a
    /// document without it removes the source's token.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 32)]
    pub bearer_token: Option<SecretString>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    pub name: String,
    pub mapping: Mapping,
    pub mapping_version: i32,
    /// Whether a bearer token is set (the token itself is never shown).
    pub has_bearer_token: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MappingVersionView {
    pub version: i32,
    pub mapping: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceDetail {
    #[serde(flatten)]
    pub source: SourceView,
    /// Every mapping this source has had; events record the version they used.
    pub mapping_versions: Vec<MappingVersionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceList {
    pub items: Vec<SourceView>,
}

fn view(s: store::Source) -> SourceView {
    SourceView {
        name: s.name,
        mapping: s.mapping,
        mapping_version: s.mapping_version,
        has_bearer_token: s.has_bearer_token,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

pub fn validate_name(name: &str) -> Result<(), ApiError> {
    SourceName::parse(name)
        .map(|_| ())
        .map_err(|problem| ApiError::invalid("name", problem.to_string()))
}

/// List sources (never their secrets).
#[utoipa::path(tag = "sources", security(("bearer" = [])),
    responses((status = 200, body = SourceList), problems::Reads))]
#[get("/v1/admin/sources")]
pub async fn list_sources(
    _: Reader,
    state: web::Data<AppState>,
) -> Result<web::Json<SourceList>, ApiError> {
    let items = store::list(&state.pool)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(web::Json(SourceList { items }))
}

/// A source, its current mapping and every mapping version (never its secret).
#[utoipa::path(tag = "sources", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = SourceDetail), problems::Reads, problems::NotFound))]
#[get("/v1/admin/sources/{name}")]
pub async fn get_source(
    _: Reader,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<web::Json<SourceDetail>, ApiError> {
    let s = store::find(&state.pool, &name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no source named {:?}", name.as_str())))?;
    let versions = store::mapping_versions(&state.pool, &name).await?;
    Ok(web::Json(SourceDetail {
        source: view(s),
        mapping_versions: versions
            .into_iter()
            .map(|v| MappingVersionView {
                version: v.version,
                mapping: v.mapping,
                created_at: v.created_at,
            })
            .collect(),
    }))
}

/// `?dry_run=true` (and its period) on `PUT /v1/admin/sources/{name}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PutQuery {
    /// Store nothing: run the events of the period and the open quarantine through this mapping
    /// and the one in force, and answer the comparison (the source must exist).
    #[serde(default)]
    pub dry_run: bool,
    /// With `dry_run=true`: RFC 3339 instant, run the events received since then (default 24 h
    /// ago, never earlier than retention keeps events).
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
}

/// What `PUT /v1/admin/sources/{name}` answers: the source, or with `dry_run=true` the comparison.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PutAnswer {
    Source(SourceView),
    DryRun(Box<CheckAnswer>),
}

/// Every problem of a source document; the signing secret may be left out of a dry run only.
fn problems_of(doc: &SourceDocument, dry_run: bool) -> Vec<FieldProblem> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    match &doc.signing_secret {
        None if dry_run => {}
        None => problems.push(FieldProblem::new("signing_secret", "missing")),
        Some(secret) if secret.expose_secret().chars().count() < MIN_SECRET_LEN => {
            problems.push(FieldProblem::new(
                "signing_secret",
                format!("must be at least {MIN_SECRET_LEN} characters"),
            ));
        }
        Some(_) => {}
    }
    if let Some(token) = &doc.bearer_token {
        let min = crate::platform::http::auth::MIN_TOKEN_LEN;
        if token.expose_secret().chars().count() < min {
            problems.push(FieldProblem::new(
                "bearer_token",
                format!("must be at least {min} characters"),
            ));
        }
    }
    problems.extend(
        doc.mapping
            .validate()
            .into_iter()
            .map(|m| FieldProblem::new("mapping", m)),
    );
    problems.extend(
        doc.mapping
            .cdc
            .validate()
            .into_iter()
            .map(|(field, m)| FieldProblem::new(field, m)),
    );
    problems
}

/// Create or replace a source. A changed mapping becomes a new mapping version, recorded in the
/// change log with a score stability watch (`GET /v1/admin/changes`).
///
/// With `?dry_run=true` nothing is stored: the events the source sent since `since` (default 24 h)
/// and its open quarantine items run through the document's mapping and through the one in force
/// (with the active manifest), and the answer compares them: counts by outcome side by side, the
/// attributes that newly fail, up to 20 examples per new failure. Admin token only. An unknown
/// source is 404 in a dry run; a bad `since` 422.
#[utoipa::path(tag = "sources", security(("bearer" = [])),
    params(("name" = String, Path), PutQuery),
    request_body = SourceDocument,
    responses((status = 200, body = PutAnswer), problems::Writes, problems::Document,
        problems::Query, problems::NotFound))]
#[put("/v1/admin/sources/{name}")]
pub async fn put_source(
    who: Writer,
    state: web::Data<AppState>,
    policy: web::Data<Policy>,
    name: web::Path<String>,
    query: web::Query<PutQuery>,
    body: web::Bytes,
) -> Result<web::Json<PutAnswer>, ApiError> {
    validate_name(&name)?;
    if query.since.is_some() && !query.dry_run {
        return Err(ApiError::invalid("since", "only with dry_run=true"));
    }
    let doc: SourceDocument = parse_document(&body)?;
    let problems = problems_of(&doc, query.dry_run);
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    if query.dry_run {
        let since = query.since.clone();
        let answer =
            super::check::source_dry_run(&state, &policy, &name, doc.mapping, since).await?;
        return Ok(web::Json(PutAnswer::DryRun(Box::new(answer))));
    }
    let signing_secret = doc.signing_secret.as_ref().expect("checked above");
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    let secret = store::NewSecret {
        plain: signing_secret,
        key: &state.secret_key,
    };
    let versions = store::upsert(&mut tx, &name, secret, &doc.mapping, now).await?;
    if versions.before != Some(versions.after) {
        let change = NewChange {
            kind: Kind::Mapping,
            name: &name,
            action: Action::Activated,
            from_version: versions.before,
            to_version: Some(versions.after),
            who: super::changed_by(&who),
            at: now,
        };
        super::record_change(&mut tx, &state, change).await?;
    }
    store::set_bearer_token(&mut tx, &name, doc.bearer_token.as_ref(), &state.secret_key).await?;
    let s = store::find(&mut *tx, &name)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("source vanished after upsert")))?;
    tx.commit().await?;
    Ok(web::Json(PutAnswer::Source(view(s))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_document_never_shows_its_secret_in_debug() {
        let doc: SourceDocument =
            serde_json::from_str(r#"{"signing_secret": "a-very-secret-signing-key"}"#).unwrap();
        assert_eq!(
            doc.signing_secret.as_ref().unwrap().expose_secret(),
            "a-very-secret-signing-key"
        );
        let dbg = format!("{doc:?}");
        assert!(!dbg.contains("a-very-secret"), "{dbg}");
        let doc: SourceDocument = serde_json::from_str(
            r#"{"signing_secret": "x", "bearer_token": "a-bearer-token-nobody-may-see-0123"}"#,
        )
        .unwrap();
        let dbg = format!("{doc:?}");
        assert!(!dbg.contains("nobody-may-see"), "{dbg}");
    }
}

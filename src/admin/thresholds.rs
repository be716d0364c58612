//! `GET/PUT /v1/admin/thresholds`, `GET /v1/admin/thresholds/history` (SPEC §8). A PUT replaces the
//! whole document, lists every problem of an invalid one (422), and stores a new version with who
//! changed it, when, and the document before.

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::thresholds::Thresholds;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::{Reader, Writer};
use crate::platform::http::page::{Page, PageQuery};
use crate::platform::http::problem::FieldProblem;
use crate::platform::http::responses as problems;
use crate::registry::changes;
use crate::registry::thresholds as store;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_thresholds)
        .service(put_thresholds)
        .service(thresholds_history);
}

/// The version in force travels in this header, so the body stays exactly the document a PUT takes.
pub const VERSION_HEADER: &str = "X-Thresholds-Version";

const FRACTIONS: [&str; 4] = ["high_tier", "moderate_tier", "min_rise", "dampening_delta"];
const SECONDS: [&str; 8] = [
    "rise_window_seconds",
    "dampening_window_seconds",
    "cooldown_seconds",
    "skew_tolerance_seconds",
    "backfill_age_seconds",
    "future_tolerance_seconds",
    "dedup_window_seconds",
    "ordering_hold_seconds",
];

/// Reads a thresholds document, listing every problem: missing, unknown and mistyped fields first,
/// then the range rules of SPEC §11.19.
pub fn parse_thresholds(doc: &Value) -> Result<Thresholds, Vec<FieldProblem>> {
    let Some(obj) = doc.as_object() else {
        return Err(vec![FieldProblem::new("", "must be a JSON object")]);
    };
    let mut problems = Vec::new();
    for k in obj.keys() {
        if !FRACTIONS.contains(&k.as_str()) && !SECONDS.contains(&k.as_str()) {
            problems.push(FieldProblem::new(k, "unknown field"));
        }
    }
    for k in FRACTIONS {
        match obj.get(k) {
            None => problems.push(FieldProblem::new(k, "missing")),
            Some(v) if !v.is_number() => problems.push(FieldProblem::new(k, "must be a number")),
            _ => {}
        }
    }
    for k in SECONDS {
        match obj.get(k) {
            None => problems.push(FieldProblem::new(k, "missing")),
            Some(v) if v.as_i64().is_none() => {
                problems.push(FieldProblem::new(k, "must be a whole number of seconds"))
            }
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let t: Thresholds = serde_json::from_value(doc.clone())
        .map_err(|e| vec![FieldProblem::new("", e.to_string())])?;
    let range = t.validate();
    if range.is_empty() { Ok(t) } else { Err(range) }
}

/// The thresholds in force.
#[utoipa::path(tag = "thresholds", security(("bearer" = [])),
    responses((status = 200, body = Thresholds, headers(("X-Thresholds-Version" = i32, description = "Version in force"))),
        problems::Reads))]
#[get("/v1/admin/thresholds")]
pub async fn get_thresholds(
    _: Reader,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (version, t) = store::current(&state.reads).await?;
    Ok(HttpResponse::Ok()
        .insert_header((VERSION_HEADER, version.to_string()))
        .json(t))
}

/// Replace the thresholds (the whole document). Invalid → 422 listing every problem.
#[utoipa::path(tag = "thresholds", security(("bearer" = [])),
    request_body = Thresholds,
    responses((status = 200, body = Thresholds, headers(("X-Thresholds-Version" = i32, description = "Version in force"))),
        problems::Writes, problems::Document))]
#[put("/v1/admin/thresholds")]
pub async fn put_thresholds(
    who: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let doc = super::parse_json(&body)?;
    let next = parse_thresholds(&doc).map_err(ApiError::Invalid)?;
    let now = state.clock.now();
    let mut tx = state.pool.begin().await?;
    if let Some(v) = store::replace(&mut tx, &next, super::changed_by(&who), now).await? {
        let change = changes::NewChange {
            kind: changes::Kind::Thresholds,
            name: "thresholds",
            action: changes::Action::Updated,
            // Versions form one chain (`replace` serializes writers).
            from_version: Some(v - 1),
            to_version: Some(v),
            who: super::changed_by(&who),
            at: now,
        };
        super::record_change(&mut tx, &state, change).await?;
    }
    let (version, t) = store::current(&mut *tx).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok()
        .insert_header((VERSION_HEADER, version.to_string()))
        .json(t))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThresholdsChange {
    pub version: i32,
    pub changed_at: DateTime<Utc>,
    /// The role of the token that made the change (`admin`), or `migration`.
    pub changed_by: String,
    /// Which token made the change: the first 8 hex digits of its SHA-256 (never the token). Null
    /// for changes recorded before tokens were named.
    #[schema(nullable)]
    pub changed_by_token: Option<String>,
    /// Null for the first version.
    #[schema(value_type = Object, nullable)]
    pub before: Option<Value>,
    #[schema(value_type = Object)]
    pub after: Value,
}

/// Every thresholds change, oldest first.
#[utoipa::path(tag = "thresholds", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<ThresholdsChange>), problems::Reads, problems::Query))]
#[get("/v1/admin/thresholds/history")]
pub async fn thresholds_history(
    _: Reader,
    state: web::Data<AppState>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<Page<ThresholdsChange>>, ApiError> {
    let limit = page.limit()?;
    let rows = store::history(&state.reads, page.after()?, limit + 1).await?;
    let rows = rows
        .into_iter()
        .map(|v| {
            (
                v.version as i64,
                ThresholdsChange {
                    version: v.version,
                    changed_at: v.changed_at,
                    changed_by: v.changed_by,
                    changed_by_token: v.changed_by_token,
                    before: v.before,
                    after: v.document,
                },
            )
        })
        .collect();
    Ok(web::Json(Page::from_rows(rows, limit)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_shape_problem_is_listed() {
        let doc = json!({"high_tier": "x", "min_rise": 0.1, "bogus": 1, "cooldown_seconds": 1.5});
        let problems = parse_thresholds(&doc).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        for f in [
            "bogus",
            "high_tier",
            "moderate_tier",
            "dampening_delta",
            "cooldown_seconds",
            "rise_window_seconds",
            "ordering_hold_seconds",
        ] {
            assert!(fields.contains(&f), "{f} not in {fields:?}");
        }
        assert!(!fields.contains(&"min_rise"));
    }
}

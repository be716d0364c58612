//! The suppression list (issue 11 §4): `PUT /v1/admin/suppressions` adds or updates up to 10,000
//! entries at once, `DELETE /v1/admin/suppressions/{contact_id}` removes one, `GET` pages through
//! them. A suppressed contact is decided `suppressed`, never pushed nor leased, and withdrawn from
//! the dialer queue when it waits there. Reading the body is pure ([`read`]); storing is
//! [`crate::registry::suppressions`].

use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, put, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::document::Fields;
use crate::domain::ids::ContactId;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::{Reader, Writer};
use crate::platform::http::page::{Page, PageQuery};
use crate::platform::http::problem::FieldProblem;
use crate::platform::http::responses as problems;
use crate::registry::suppressions::{self as store, Entry, SuppressionView, UpsertReport};

/// At most this many entries per request (413 past it).
pub const MAX_SUPPRESSIONS: usize = 10_000;
/// Longest note.
pub const MAX_NOTE_CHARS: usize = 1_000;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(put_suppressions)
        .service(list_suppressions)
        .service(delete_suppression);
}

/// The request body (documentation; it is read field by field so every problem is listed).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SuppressionsRequest {
    /// 1 to 10,000 entries. A contact named twice takes its last entry.
    items: Vec<SuppressionItem>,
}

/// One entry to add or update.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct SuppressionItem {
    /// At most 128 characters.
    #[schema(example = "c-000123")]
    contact_id: String,
    /// When the suppression ends; absent or null: never. One in the past does not suppress.
    expires_at: Option<DateTime<Utc>>,
    /// Why (at most 1,000 characters), for the operators.
    #[schema(example = "asked not to be called (support ticket 4411)")]
    note: Option<String>,
}

/// Why a body cannot be taken.
#[derive(Debug, PartialEq)]
pub enum Refused {
    TooMany(usize),
    Invalid(Vec<FieldProblem>),
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::TooMany(n) => ApiError::PayloadTooLarge(format!(
                "{n} suppressions in one request; at most {MAX_SUPPRESSIONS}"
            )),
            Refused::Invalid(p) => ApiError::Invalid(p),
        }
    }
}

/// Reads the body: every problem listed, each naming its index and field (`items[3].contact_id`).
/// A contact named twice keeps its last entry (an export may repeat a row). Pure.
pub fn read(doc: &Value) -> Result<Vec<Entry>, Refused> {
    let mut f = Fields::of(doc, "").map_err(Refused::Invalid)?;
    let items = match f.raw("items") {
        None => {
            f.problem("items", "missing");
            None
        }
        Some(Value::Array(items)) if items.len() > MAX_SUPPRESSIONS => {
            return Err(Refused::TooMany(items.len()));
        }
        Some(Value::Array(items)) if items.is_empty() => {
            f.problem("items", "must list at least one suppression");
            None
        }
        Some(Value::Array(items)) => Some(items),
        Some(_) => {
            f.problem("items", "must be an array");
            None
        }
    };
    let mut entries = Vec::new();
    for (i, item) in items.into_iter().flatten().enumerate() {
        match read_item(item, &format!("items[{i}]")) {
            Ok(e) => entries.push(e),
            Err(p) => f.extend(p),
        }
    }
    let problems = f.finish();
    if !problems.is_empty() {
        return Err(Refused::Invalid(problems));
    }
    Ok(last_per_contact(entries))
}

fn read_item(item: &Value, path: &str) -> Result<Entry, Vec<FieldProblem>> {
    let mut f = Fields::of(item, path)?;
    let contact_id = f.required::<String>("contact_id");
    let expires_at = f.nullable::<DateTime<Utc>>("expires_at");
    let note = f.nullable::<String>("note");
    // The contact id as events carry it, verbatim: a blank one is a contact like any other.
    if let Some(Err(problem)) = contact_id.as_deref().map(ContactId::parse) {
        f.problem("contact_id", problem.to_string());
    }
    if let Some(n) = &note
        && n.chars().count() > MAX_NOTE_CHARS
    {
        f.problem("note", format!("at most {MAX_NOTE_CHARS} characters"));
    }
    let problems = f.finish();
    match contact_id {
        Some(contact_id) if problems.is_empty() => Ok(Entry {
            contact_id,
            expires_at,
            note,
        }),
        _ => Err(problems),
    }
}

/// One entry per contact, the last one named, in the order of their last mention.
fn last_per_contact(entries: Vec<Entry>) -> Vec<Entry> {
    let last: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.contact_id.as_str(), i))
        .collect();
    let keep: Vec<bool> = (0..entries.len())
        .map(|i| last.get(entries[i].contact_id.as_str()) == Some(&i))
        .collect();
    entries
        .into_iter()
        .zip(keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect()
}

/// Add or update suppressions (bulk, up to 10,000). A contact suppressed now is withdrawn from the
/// dialer queue at once (`withdrawn` counts the items) and is decided `suppressed` from the next
/// run on. More than 10,000 entries → 413; an invalid entry → 422 naming its index and field.
#[utoipa::path(tag = "suppressions", security(("bearer" = [])),
    request_body = SuppressionsRequest,
    responses((status = 200, body = UpsertReport), problems::Writes, problems::Document))]
#[put("/v1/admin/suppressions")]
pub async fn put_suppressions(
    _: Writer,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<web::Json<UpsertReport>, ApiError> {
    let entries = read(&super::parse_json(&body)?)?;
    let mut tx = state.pool.begin().await?;
    let report = store::upsert(&mut tx, &entries, state.clock.now()).await?;
    tx.commit().await?;
    tracing::info!(
        created = report.created,
        updated = report.updated,
        withdrawn = report.withdrawn,
        "suppressions stored"
    );
    Ok(web::Json(report))
}

/// The suppression list, in the order entries were first added; `active` says whether each
/// suppresses now.
#[utoipa::path(tag = "suppressions", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<SuppressionView>), problems::Reads, problems::Query))]
#[get("/v1/admin/suppressions")]
pub async fn list_suppressions(
    _: Reader,
    state: web::Data<AppState>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<Page<SuppressionView>>, ApiError> {
    let limit = page.limit()?;
    let rows = store::list(&state.reads, page.after()?, limit + 1, state.clock.now()).await?;
    Ok(web::Json(Page::from_rows(rows, limit)))
}

/// Remove a contact from the suppression list (404 when it is not on it). It is decided again by
/// the next run.
#[utoipa::path(tag = "suppressions", security(("bearer" = [])),
    params(("contact_id" = String, Path)),
    responses((status = 204, description = "Removed"), problems::Writes, problems::NotFound))]
#[delete("/v1/admin/suppressions/{contact_id}")]
pub async fn delete_suppression(
    _: Writer,
    state: web::Data<AppState>,
    contact_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.pool.begin().await?;
    if !store::delete(&mut tx, &contact_id).await? {
        return Err(ApiError::NotFound(format!(
            "contact {:?} is not on the suppression list",
            contact_id.as_str()
        )));
    }
    tx.commit().await?;
    tracing::info!("suppression removed");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(r: Refused) -> Vec<String> {
        match r {
            Refused::Invalid(p) => p.into_iter().map(|p| p.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_entries_with_optional_expiry_and_note() {
        let e = read(&json!({"items": [
            {"contact_id": "a"},
            {"contact_id": "b", "expires_at": "2026-12-31T00:00:00Z", "note": "asked"},
        ]}))
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].expires_at, None);
        assert_eq!(
            e[1].expires_at,
            Some("2026-12-31T00:00:00Z".parse().unwrap())
        );
        assert_eq!(e[1].note.as_deref(), Some("asked"));
    }

    #[test]
    fn every_problem_names_its_index_and_field() {
        let long = "x".repeat(crate::domain::ids::MAX_CONTACT_ID_CHARS + 1);
        let r = read(&json!({"items": [
            {"contact_id": "ok"},
            {"contact_id": ""},
            {"expires_at": "soon"},
            {"contact_id": long, "note": "n".repeat(MAX_NOTE_CHARS + 1), "colour": 1},
            7,
        ], "extra": true}))
        .unwrap_err();
        assert_eq!(
            fields(r),
            [
                "items[1].contact_id",
                "items[2].contact_id",
                "items[2].expires_at",
                "items[3].contact_id",
                "items[3].note",
                "items[3].colour",
                "items[4]",
                "extra"
            ]
        );
    }

    #[test]
    fn the_list_is_required_and_not_empty() {
        assert_eq!(fields(read(&json!({})).unwrap_err()), ["items"]);
        assert_eq!(fields(read(&json!({"items": []})).unwrap_err()), ["items"]);
        assert_eq!(fields(read(&json!({"items": {}})).unwrap_err()), ["items"]);
        assert_eq!(fields(read(&json!([])).unwrap_err()), ["body"]);
    }

    #[test]
    fn more_than_the_limit_is_too_large() {
        let items: Vec<Value> = (0..=MAX_SUPPRESSIONS)
            .map(|i| json!({"contact_id": format!("c{i}")}))
            .collect();
        assert_eq!(
            read(&json!({ "items": items })).unwrap_err(),
            Refused::TooMany(MAX_SUPPRESSIONS + 1)
        );
        let items = &items[..MAX_SUPPRESSIONS];
        assert_eq!(
            read(&json!({ "items": items })).unwrap().len(),
            MAX_SUPPRESSIONS
        );
    }

    #[test]
    fn a_contact_named_twice_keeps_its_last_entry() {
        let e = read(&json!({"items": [
            {"contact_id": "a", "note": "first"},
            {"contact_id": "b"},
            {"contact_id": "a", "note": "second"},
        ]}))
        .unwrap();
        let got: Vec<(&str, Option<&str>)> = e
            .iter()
            .map(|e| (e.contact_id.as_str(), e.note.as_deref()))
            .collect();
        assert_eq!(got, [("b", None), ("a", Some("second"))]);
    }
}

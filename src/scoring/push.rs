//! Pushed scores (`POST /v1/scores`, issue 10 §4): score observations from where they really are —
//! a data-science team's propensity model, a reverse-ETL job — stored like a polled profile (source
//! `pushed`) and evaluated by the same run. Reading an item is pure; storing reuses
//! [`super::store::store_pushed`].

use actix_web::{HttpRequest, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::profile::Profile;
use crate::domain::ids::{ContactId, IdProblem};
use crate::eligibility::Window;
use crate::ingest::body;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::auth::ScorePoster;
use crate::platform::http::responses as problems;

/// At most this many observations per request (413 past it).
pub const MAX_SCORES: usize = 10_000;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(post_scores);
}

/// One observation as a model sends it (documentation of the request body).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ScoreObservation {
    contact_id: String,
    /// From 0 to 1.
    score: f64,
    /// RFC 3339; with the contact, the key that makes a repeat a `duplicate`.
    observed_at: DateTime<Utc>,
    channel_preference: Option<String>,
    best_contact_window: Option<Window>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScoreStatus {
    Stored,
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScoreResult {
    pub index: usize,
    pub status: ScoreStatus,
    /// Why it was rejected: `not_an_object`, `malformed`, `missing_contact_id`,
    /// `contact_id_too_long` (over 128 characters, as for events), `invalid_score`,
    /// `score_out_of_range`, `invalid_timestamp`, `invalid_channel`, `invalid_window`,
    /// `invalid_characters`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreResults {
    pub results: Vec<ScoreResult>,
}

/// A pushed observation that reads: what is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub contact_id: String,
    pub observed_at: DateTime<Utc>,
    pub profile: Profile,
    pub raw: Value,
}

/// Reads one item, or the machine-readable reason it is rejected.
pub fn read_item(item: &body::Item) -> Result<Pushed, &'static str> {
    let raw = match item {
        body::Item::Json(v) | body::Item::Line(v, _) => v,
        body::Item::Malformed { .. } => return Err("malformed"),
    };
    let obj = raw.as_object().ok_or("not_an_object")?;
    // PostgreSQL stores no NUL, and the item is kept whole in the snapshot.
    if crate::domain::text::nul_path(raw).is_some() {
        return Err("invalid_characters");
    }
    // Taken verbatim, as ingestion takes it (SPEC §2), so a pushed score meets the contact's events.
    let contact_id = obj
        .get("contact_id")
        .and_then(Value::as_str)
        .ok_or("missing_contact_id")?;
    match ContactId::parse(contact_id) {
        Ok(_) => {}
        Err(IdProblem::TooLong { .. }) => return Err("contact_id_too_long"),
        Err(_) => return Err("missing_contact_id"),
    }
    let score = obj
        .get("score")
        .and_then(Value::as_f64)
        .ok_or("invalid_score")?;
    if !(0.0..=1.0).contains(&score) {
        return Err("score_out_of_range");
    }
    let observed_at = obj
        .get("observed_at")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .ok_or("invalid_timestamp")?
        .with_timezone(&Utc);
    Ok(Pushed {
        contact_id: contact_id.to_owned(),
        observed_at,
        profile: Profile {
            score: Some(score),
            channel: channel(obj.get("channel_preference"))?,
            window: window(obj.get("best_contact_window"))?,
            last_event_timestamp: None,
            history: Vec::new(),
        },
        raw: raw.clone(),
    })
}

fn channel(v: Option<&Value>) -> Result<Option<String>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(_) => Err("invalid_channel"),
    }
}

/// A window must read and name a zone the tz database knows: unlike a polled profile (kept as PE
/// sent it), a pushed one can be corrected by its sender, so it is refused now rather than turned
/// into an `invalid_timezone` decision later.
fn window(v: Option<&Value>) -> Result<Option<Window>, &'static str> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let w = serde::Deserialize::deserialize(v).map_err(|_| "invalid_window")?;
            Window::zoned(&w).map_err(|_| "invalid_window")?;
            Ok(Some(w))
        }
    }
}

/// Post score observations.
///
/// A JSON array of observations (or one object) or NDJSON (`application/x-ndjson`), at most 10,000
/// items and 5 MiB. Each is stored like a polled profile (a snapshot and an observation with source
/// `pushed`) and the contact is evaluated by the next evaluation run, whether pesync has seen events
/// of it or not. The answer has one result per item in request order; a bad item never rejects the
/// others, and a repeat of (contact, `observed_at`) is a `duplicate`. Bearer: the admin token or
/// `PESYNC_SCORER_TOKEN`.
#[utoipa::path(tag = "scoring", security(("bearer" = [])),
    request_body(description = "Observations: an array, one object, or NDJSON", content(
        (Vec<ScoreObservation> = "application/json"),
        (String = "application/x-ndjson"))),
    responses((status = 200, description = "One result per item", body = ScoreResults),
        problems::Writes, problems::ScoreBody))]
#[post("/v1/scores")]
pub async fn post_scores(
    _: ScorePoster,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<web::Json<ScoreResults>, ApiError> {
    let items = body::from_request(&req, &body, MAX_SCORES, "observations")?;
    let read: Vec<_> = items.iter().map(read_item).collect();
    let now = state.clock.now();
    // A deadlock with a concurrent request over the same contacts rolls the transaction back:
    // running it again is safe.
    let results =
        crate::platform::db::retry::retry_conflicts(|| store_all(&state, &read, now)).await?;
    Ok(web::Json(ScoreResults { results }))
}

/// Stores every item that reads, in one transaction, and answers for each in order.
async fn store_all(
    state: &AppState,
    read: &[Result<Pushed, &'static str>],
    now: DateTime<Utc>,
) -> Result<Vec<ScoreResult>, ApiError> {
    let mut tx = state.pool.begin().await?;
    let mut results = Vec::with_capacity(read.len());
    for (index, item) in read.iter().enumerate() {
        let (status, reason) = match item {
            Err(reason) => (ScoreStatus::Rejected, Some(*reason)),
            Ok(p) => {
                // Kept as the object it was (`read_item` refused any NUL, so it fits `jsonb`): the
                // snapshot's `raw` is an object, as the contact view's schema says.
                let new = super::store::store_pushed(
                    &mut tx,
                    &p.contact_id,
                    p.observed_at,
                    now,
                    &p.profile,
                    &p.raw,
                )
                .await?;
                let status = if new {
                    ScoreStatus::Stored
                } else {
                    ScoreStatus::Duplicate
                };
                (status, None)
            }
        };
        results.push(ScoreResult {
            index,
            status,
            reason,
        });
    }
    tx.commit().await?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Pushed, &'static str> {
        read_item(&body::Item::Json(v))
    }

    #[test]
    fn a_full_observation_reads() {
        let p = read(json!({"contact_id": "c1", "score": 0.7, "observed_at": "2026-12-06T10:00:00+01:00",
            "channel_preference": "voice",
            "best_contact_window": {"start_time": "09:00:00", "end_time": "17:00:00", "timezone": "Europe/Paris"}}))
        .unwrap();
        assert_eq!(p.contact_id, "c1");
        assert_eq!(p.observed_at.to_rfc3339(), "2026-12-06T09:00:00+00:00");
        assert_eq!(p.profile.score, Some(0.7));
        assert_eq!(p.profile.channel.as_deref(), Some("voice"));
        assert_eq!(p.profile.window.unwrap().timezone, "Europe/Paris");
        let p = read(
            json!({"contact_id": "c", "score": 1, "observed_at": "2026-12-06T10:00:00Z",
            "channel_preference": null}),
        )
        .unwrap();
        assert_eq!((p.profile.score, p.profile.channel), (Some(1.0), None));
    }

    #[test]
    fn each_defect_has_its_reason() {
        let ok = json!({"contact_id": "c", "score": 0.5, "observed_at": "2026-12-06T10:00:00Z"});
        let with = |k: &str, v: Value| {
            let mut o = ok.clone();
            o[k] = v;
            read(o).unwrap_err()
        };
        assert_eq!(read(json!([1])).unwrap_err(), "not_an_object");
        assert_eq!(with("contact_id", json!("")), "missing_contact_id");
        assert_eq!(
            with("contact_id", json!("a".repeat(129))),
            "contact_id_too_long"
        );
        assert!(read(json!({"contact_id": "a".repeat(128), "score": 0, "observed_at": "2026-12-06T10:00:00Z"})).is_ok());
        assert_eq!(with("contact_id", json!(7)), "missing_contact_id");
        assert_eq!(with("score", json!("0.5")), "invalid_score");
        assert_eq!(with("score", json!(1.01)), "score_out_of_range");
        assert_eq!(with("score", json!(-0.1)), "score_out_of_range");
        assert_eq!(with("observed_at", json!("yesterday")), "invalid_timestamp");
        assert_eq!(with("observed_at", json!(null)), "invalid_timestamp");
        assert_eq!(with("channel_preference", json!(3)), "invalid_channel");
        assert_eq!(
            with(
                "best_contact_window",
                json!({"start_time": "9am", "end_time": "17:00:00", "timezone": "UTC"})
            ),
            "invalid_window"
        );
        assert_eq!(
            with(
                "best_contact_window",
                json!({"start_time": "09:00:00", "end_time": "17:00:00", "timezone": "Mars/Base"})
            ),
            "invalid_window"
        );
        assert_eq!(with("contact_id", json!("c\u{0}")), "invalid_characters");
        let malformed = body::Item::Malformed {
            raw: "{x".into(),
            error: "e".into(),
        };
        assert_eq!(read_item(&malformed).unwrap_err(), "malformed");
    }
}

//! `POST /v1/sources/{source}/cdc` (issue 13): Debezium change events, as Debezium Server's HTTP
//! sink posts them, through exactly the pipeline of `POST /v1/sources/{source}/events`: the same
//! authentication, limits and answers, then each change is translated with the source's CDC mapping
//! (`crate::cdc`) and planned, deduplicated and stored like an event.

use actix_web::{HttpRequest, post, web};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::body::{self, Format, Item};
use super::outcome::{EventResult, Results, Status};
use super::plan::{self, Documents, Intake, Planned};
use crate::cdc::{self, Skip, Translated};
use crate::domain::text;
use crate::normalize::QuarantineReason;
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::platform::http::responses as problems;
use crate::registry;

/// What a received change comes to before admission.
#[derive(Debug)]
pub enum ChangePlan {
    Skipped(Skip),
    Planned(Planned),
}

/// Plans one received change: translated with the source's CDC mapping, then planned as an event.
/// Whatever is quarantined keeps the change as it was received (`intake: cdc`), so a replay
/// translates it again with the mapping then in force; a stored event keeps it as its raw payload.
pub fn plan_change(item: Item, reg: &Documents<'_>, now: DateTime<Utc>) -> ChangePlan {
    let raw = match item {
        Item::Json(v) | Item::Line(v, _) => v,
        line @ Item::Malformed { .. } => {
            return ChangePlan::Planned(as_cdc(plan::plan(&line, reg, now)));
        }
    };
    // Characters first (SPEC §11.1), before the change's text is copied anywhere.
    if let Some(path) = text::nul_path(&raw) {
        let field = if path.is_empty() { "the change" } else { &path };
        return ChangePlan::Planned(Planned::Quarantine {
            reason: QuarantineReason::InvalidCharacters,
            detail: format!("{field} {}", text::NUL_MESSAGE),
            raw: text::storable(&raw),
            intake: Intake::Cdc,
        });
    }
    match cdc::translate(&raw, &reg.mapping.cdc) {
        Ok(Translated::Skipped(skip)) => ChangePlan::Skipped(skip),
        Err(rejection) => ChangePlan::Planned(Planned::Quarantine {
            reason: rejection.reason,
            detail: rejection.detail,
            raw,
            intake: Intake::Cdc,
        }),
        Ok(Translated::Event(envelope)) => ChangePlan::Planned(
            match plan::plan_json(&envelope, None, || raw.to_string(), reg, now) {
                Planned::Quarantine { reason, detail, .. } => Planned::Quarantine {
                    reason,
                    detail,
                    raw,
                    intake: Intake::Cdc,
                },
                event @ Planned::Event(_) => event,
            },
        ),
    }
}

fn as_cdc(planned: Planned) -> Planned {
    match planned {
        Planned::Quarantine {
            reason,
            detail,
            raw,
            ..
        } => Planned::Quarantine {
            reason,
            detail,
            raw,
            intake: Intake::Cdc,
        },
        event => event,
    }
}

/// The answer for a skipped change.
pub fn skipped(index: usize, skip: Skip) -> EventResult {
    let mut r = EventResult::new(index, Status::Skipped);
    r.reason = Some(skip.as_str().to_owned());
    r
}

/// `application/json` and `application/x-ndjson` as for events, and CloudEvents' structured JSON
/// (`application/cloudevents+json`, one event; `application/cloudevents-batch+json`, an array), which
/// Debezium Server's HTTP sink sends with `debezium.format.value=cloudevents`.
pub fn format_of(content_type: Option<&str>) -> Option<Format> {
    let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/cloudevents+json" | "application/cloudevents-batch+json" => Some(Format::Json),
        _ => Format::from_content_type(Some(&essence)),
    }
}

/// Receive Debezium change events.
///
/// As Debezium Server's HTTP sink posts them: one change event, a JSON array of them, or NDJSON;
/// with or without the `schema`/`payload` wrapper; or CloudEvents structured mode
/// (`application/cloudevents+json`, the change in `data`). At most 1,000 changes and 5 MiB. Signed
/// like `/events`, or with the source's bearer token (`Authorization: Bearer <token>`, or
/// `X-Debezium-Authorization` as the sink's header prefix makes it). Each change of a table listed
/// in the source's CDC mapping becomes an event and goes through the ingestion pipeline; a change
/// from another table is quarantined (`unmapped_table`); a tombstone, or a delete the mapping
/// ignores, is answered `skipped`. One result per change, in request order, all committed first.
#[utoipa::path(
    tag = "ingestion",
    params(("source" = String, Path, description = "Configured source name")),
    request_body(description = "A Debezium change event, an array of them, or NDJSON", content(
        (serde_json::Value = "application/json"),
        (String = "application/x-ndjson"),
        (serde_json::Value = "application/cloudevents+json"))),
    responses(
        (status = 200, description = "One result per change", body = Results),
        problems::IngestErrors,
    )
)]
#[post("/v1/sources/{source}/cdc")]
pub async fn ingest_changes(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<Results, ApiError> {
    let now = state.clock.now();
    let source = super::authenticated_source(&state, &path.into_inner(), &req, &body, now).await?;

    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = format_of(content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(
            "send application/json (a change event or an array), application/x-ndjson or \
             application/cloudevents+json"
                .into(),
        )
    })?;
    let items = body::split_request(format, &body, body::MAX_EVENTS, "change events")?;
    if items.is_empty() {
        return Ok(Results { results: vec![] });
    }
    // Skips depend on the change and the mapping only: decided once, outside the transaction.
    let skips: Vec<Option<Skip>> = items.iter().map(|i| skip_of(i, &source)).collect();
    let results = crate::platform::db::retry::retry_conflicts(|| {
        super::admit_planned(&state, &source, now, |reg| {
            items
                .iter()
                .zip(&skips)
                .filter(|(_, skip)| skip.is_none())
                .filter_map(|(item, _)| match plan_change(item.clone(), reg, now) {
                    ChangePlan::Planned(p) => Some(p),
                    ChangePlan::Skipped(_) => None,
                })
                .collect()
        })
    })
    .await?;
    let counters = &crate::ingest::metrics::INTAKE;
    counters.received(items.len() as u64);
    counters.cdc_skipped(skips.iter().flatten().count() as u64);
    Ok(Results {
        results: merge(&skips, results),
    })
}

fn skip_of(item: &Item, source: &registry::sources::Source) -> Option<Skip> {
    match item {
        Item::Json(v) | Item::Line(v, _) => match cdc::translate(v, &source.mapping.cdc) {
            Ok(Translated::Skipped(skip)) => Some(skip),
            _ => None,
        },
        Item::Malformed { .. } => None,
    }
}

/// The admitted results put back among the skipped ones, indexed in request order.
fn merge(skips: &[Option<Skip>], admitted: Vec<EventResult>) -> Vec<EventResult> {
    let mut admitted = admitted.into_iter();
    skips
        .iter()
        .enumerate()
        .filter_map(|(index, skip)| match skip {
            Some(skip) => Some(skipped(index, *skip)),
            None => admitted.next().map(|mut r| {
                r.index = index;
                r
            }),
        })
        .collect()
}

/// A quarantined change's raw payload, planned again (quarantine replay of an `intake: cdc` item).
pub fn replan(
    raw: Value,
    reason: QuarantineReason,
    reg: &Documents<'_>,
    now: DateTime<Utc>,
) -> ChangePlan {
    plan_change(plan::item_from_raw(raw, reason), reg, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_events_content_types_are_json() {
        assert_eq!(
            format_of(Some("application/cloudevents+json; charset=utf-8")),
            Some(Format::Json)
        );
        assert_eq!(format_of(Some("application/json")), Some(Format::Json));
        assert_eq!(
            format_of(Some("application/x-ndjson")),
            Some(Format::Ndjson)
        );
        assert_eq!(format_of(Some("text/plain")), None);
        assert_eq!(format_of(None), None);
    }

    /// Plans `change` against an empty mapping and the default manifest.
    fn plan_default(item: Item) -> ChangePlan {
        use crate::normalize::{Manifest, Mapping};
        let (mapping, manifest) = (Mapping::default(), Manifest::default_v1());
        let thresholds = crate::domain::thresholds::Thresholds::default();
        let reg = Documents {
            source: "crm",
            mapping: &mapping,
            manifest: &manifest,
            thresholds: &thresholds,
        };
        plan_change(item, &reg, Utc::now())
    }

    #[test]
    fn a_change_with_a_nul_is_quarantined_storable_and_replays_the_same() {
        let change = serde_json::json!({"op": "c", "after": {"contact_id": "c\u{0}"}});
        let ChangePlan::Planned(Planned::Quarantine {
            reason,
            raw,
            intake,
            detail,
        }) = plan_default(Item::Json(change))
        else {
            panic!("not quarantined")
        };
        assert_eq!(
            (reason, intake),
            (QuarantineReason::InvalidCharacters, Intake::Cdc)
        );
        assert_eq!(detail, format!("after.contact_id {}", text::NUL_MESSAGE));
        assert!(raw.is_string() && !raw.as_str().unwrap().contains('\0'));
        let ChangePlan::Planned(Planned::Quarantine { reason, .. }) =
            plan_default(plan::item_from_raw(raw, reason))
        else {
            panic!("a replay fails the same way")
        };
        assert_eq!(reason, QuarantineReason::InvalidCharacters);
    }

    #[test]
    fn an_unmapped_table_keeps_the_change_as_received() {
        let change = serde_json::json!({"op": "c", "after": {"id": 1},
            "source": {"connector": "postgresql", "schema": "crm", "table": "x", "lsn": 7}});
        match plan_default(Item::Json(change.clone())) {
            ChangePlan::Planned(Planned::Quarantine {
                reason,
                raw,
                intake,
                ..
            }) => assert_eq!(
                (reason, raw, intake),
                (QuarantineReason::UnmappedTable, change, Intake::Cdc)
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn skipped_results_keep_their_place() {
        let admitted = vec![
            EventResult::new(0, Status::Accepted),
            EventResult::new(1, Status::Duplicate),
        ];
        let merged = merge(&[None, Some(Skip::Tombstone), None], admitted);
        let view: Vec<(usize, Status, Option<String>)> = merged
            .into_iter()
            .map(|r| (r.index, r.status, r.reason))
            .collect();
        assert_eq!(
            view,
            [
                (0, Status::Accepted, None),
                (1, Status::Skipped, Some("tombstone".into())),
                (2, Status::Duplicate, None),
            ]
        );
    }
}

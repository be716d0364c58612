//! Stores planned items: quarantine rows, reconciliation rows, and lane events that win their dedup
//! key, all in the caller's transaction. Shared by ingestion and quarantine replay, so a replay runs
//! exactly the pipeline a fresh event does (SPEC §3).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::outcome::{EventResult, Status};
use super::plan::{Planned, PlannedEvent};
use super::store::{self, NewEvent, NewQuarantine, Versions};
use crate::delivery::{Lane, queue};
use crate::normalize::Route;
use crate::thresholds::Thresholds;

pub struct Admission<'a> {
    pub source: &'a str,
    pub versions: Versions,
    pub thresholds: &'a Thresholds,
    pub now: DateTime<Utc>,
}

pub fn route_reason(route: Route) -> Option<&'static str> {
    match route {
        Route::RealTime => None,
        Route::Backfill => Some("older_than_backfill_age"),
        Route::Reconciliation => Some("future_timestamp"),
    }
}

pub fn lane_of(route: Route) -> Option<Lane> {
    match route {
        Route::RealTime => Some(Lane::Realtime),
        Route::Backfill => Some(Lane::Backfill),
        Route::Reconciliation => None,
    }
}

/// Stores every item and answers one result per item, in order.
pub async fn admit(
    tx: &mut PgConnection,
    items: Vec<Planned>,
    adm: &Admission<'_>,
) -> sqlx::Result<Vec<EventResult>> {
    let dedup_window = Duration::seconds(adm.thresholds.dedup_window_seconds);
    let hold = Duration::seconds(adm.thresholds.ordering_hold_seconds);

    // Dedup within the request first: the first of equal keys competes for the stored key, later
    // ones are duplicates of it whatever the outcome.
    let mut seen = HashSet::new();
    let mut contenders: Vec<([u8; 32], Uuid)> = items
        .iter()
        .filter_map(|p| match p {
            Planned::Event(e) if e.route() != Route::Reconciliation && seen.insert(e.dedup_key) => {
                Some((e.dedup_key, e.event_id))
            }
            _ => None,
        })
        .collect();
    contenders.sort(); // a fixed lock order keeps concurrent batches from deadlocking
    let won = store::claim_dedup_keys(tx, &contenders, adm.now, dedup_window).await?;
    let winners: HashSet<Uuid> = contenders
        .iter()
        .filter(|(k, _)| won.contains(k))
        .map(|(_, id)| *id)
        .collect();

    let mut results = Vec::with_capacity(items.len());
    let mut quarantine = Vec::new();
    let mut events = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let mut r = EventResult::new(index, Status::Accepted);
        match item {
            Planned::Quarantine {
                reason,
                detail,
                raw,
            } => {
                r.status = Status::Quarantined;
                r.reason = Some(reason.as_str().to_owned());
                r.detail = Some(detail.clone());
                quarantine.push(NewQuarantine {
                    id: Uuid::new_v4(),
                    reason: reason.as_str().to_owned(),
                    detail,
                    raw,
                });
            }
            Planned::Event(e) => {
                let route = e.route();
                let reason = route_reason(route);
                r.reason = reason.map(str::to_owned);
                match route {
                    Route::Reconciliation => {
                        r.status = Status::Reconciliation;
                        r.event_id = Some(e.event_id);
                    }
                    _ if !winners.contains(&e.event_id) => {
                        r.status = Status::Duplicate;
                        r.reason = None;
                        r.request_id = Some(e.request_id);
                        results.push(r);
                        continue;
                    }
                    Route::Backfill => r.status = Status::Backfill,
                    Route::RealTime => r.status = Status::Accepted,
                }
                if route != Route::Reconciliation {
                    r.event_id = Some(e.event_id);
                    r.request_id = Some(e.request_id);
                }
                if !e.normalized.stripped.is_empty() {
                    crate::telemetry::counters::COUNTERS
                        .deprecated_stripped(e.normalized.stripped.len() as u64);
                }
                events.push(new_event(*e, lane_of(route), reason));
            }
        }
        results.push(r);
    }

    store::insert_quarantine(tx, adm.source, &quarantine, adm.now).await?;
    store::insert_events(tx, adm.source, &adm.versions, &events, adm.now).await?;
    queue::enqueue(
        tx,
        events.iter().filter_map(|e| {
            e.lane
                .map(|lane| (e.contact_id.clone(), lane, adm.now + hold))
        }),
    )
    .await?;
    Ok(results)
}

fn new_event(e: PlannedEvent, lane: Option<Lane>, reason: Option<&str>) -> NewEvent {
    let n = e.normalized;
    NewEvent {
        id: e.event_id,
        contact_id: n.contact_id,
        event_type: n.event_type,
        event_timestamp: n.event_timestamp,
        attributes: serde_json::Value::Object(n.attributes),
        raw: e.raw,
        request_id: e.request_id,
        dedup_key: e.dedup_key,
        lane,
        route_reason: reason.map(str::to_owned),
    }
}

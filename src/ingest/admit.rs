//! Stores planned items: quarantine rows, reconciliation rows, and lane events that win their dedup
//! key, all in the caller's transaction. Shared by ingestion and quarantine replay, so a replay runs
//! exactly the pipeline a fresh event does (SPEC §3).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::outcome::{EventResult, Status};
use super::plan::{Intake, Planned, PlannedEvent};
use super::store::{self, NewEvent, NewQuarantine, Versions};
use crate::delivery::{Lane, inbox};
use crate::domain::thresholds::Thresholds;
use crate::normalize::{QuarantineReason, Route};

pub struct Admission<'a> {
    pub source: &'a str,
    pub versions: Versions,
    pub thresholds: &'a Thresholds,
    pub now: DateTime<Utc>,
}

/// The lane a route enters; `None` for the reconciliation queue, which is no lane.
pub fn lane_of(route: Route) -> Option<Lane> {
    match route {
        Route::Realtime => Some(Lane::Realtime),
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
    let hold = adm.thresholds.ordering_hold();
    let contenders = items.iter().filter_map(|p| match p {
        Planned::Event(e) if e.route() != Route::Reconciliation => Some((e.dedup_key, e.event_id)),
        _ => None,
    });
    // Whether each contender won, in the order of `items`.
    let mut won = claim_winners(tx, contenders, adm.now, adm.thresholds)
        .await?
        .into_iter();

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
                intake,
            } => {
                r.status = Status::Quarantined;
                r.reason = Some(reason.as_str().to_owned());
                r.detail = Some(detail.clone());
                quarantine.push(new_quarantine(reason, detail, raw, intake));
            }
            Planned::Event(e) => {
                let route = e.route();
                let reason = route.reason();
                r.reason = reason.map(str::to_owned);
                // The contenders were the events outside reconciliation, in this order.
                let lost = route != Route::Reconciliation && !won.next().unwrap_or(false);
                match route {
                    Route::Reconciliation => {
                        r.status = Status::Reconciliation;
                        r.event_id = Some(e.event_id);
                    }
                    _ if lost => {
                        r.status = Status::Duplicate;
                        r.reason = None;
                        r.request_id = Some(e.request_id);
                        results.push(r);
                        continue;
                    }
                    Route::Backfill => r.status = Status::Backfill,
                    Route::Realtime => r.status = Status::Accepted,
                }
                if route != Route::Reconciliation {
                    r.event_id = Some(e.event_id);
                    r.request_id = Some(e.request_id);
                }
                if !e.normalized.stripped.is_empty() {
                    crate::ingest::metrics::INTAKE
                        .deprecated_stripped(e.normalized.stripped.len() as u64);
                }
                events.push(new_event(*e, lane_of(route), reason));
            }
        }
        results.push(r);
    }

    store::insert_quarantine(tx, adm.source, &quarantine, adm.now).await?;
    store::insert_events(tx, adm.source, &adm.versions, &events, adm.now).await?;
    inbox::add(
        tx,
        adm.now + hold,
        events
            .iter()
            .filter_map(|e| e.lane.map(|lane| (e.contact_id.as_str(), lane))),
    )
    .await?;
    Ok(results)
}

/// SPEC §4: whether each of `contenders` (dedup key, event id), in the order given, wins its key
/// within the dedup window; the others are duplicates. Among equal keys only the first competes (a
/// later one in the same batch is a duplicate of it whatever the outcome). The one owner of the
/// dedup claim, for ingestion and for the release of reconciliation items alike.
pub async fn claim_winners(
    tx: &mut PgConnection,
    contenders: impl IntoIterator<Item = ([u8; 32], Uuid)>,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> sqlx::Result<Vec<bool>> {
    let offered: Vec<([u8; 32], Uuid)> = contenders.into_iter().collect();
    // Each key's first contender, in key order: a fixed lock order keeps concurrent batches from
    // deadlocking. The sort is stable, so the first of equal keys is the one kept.
    let mut first: Vec<usize> = (0..offered.len()).collect();
    first.sort_by(|&a, &b| offered[a].0.cmp(&offered[b].0));
    first.dedup_by(|b, a| offered[*a].0 == offered[*b].0);
    let keys: Vec<([u8; 32], Uuid)> = first.iter().map(|&i| offered[i]).collect();
    let claimed = store::claim_dedup_keys(tx, &keys, now, thresholds.dedup_window()).await?;
    let mut won = vec![false; offered.len()];
    for i in first {
        won[i] = claimed.won(&offered[i].0);
    }
    Ok(won)
}

fn new_quarantine(
    reason: QuarantineReason,
    detail: String,
    raw: serde_json::Value,
    intake: Intake,
) -> NewQuarantine {
    NewQuarantine {
        id: Uuid::new_v4(),
        reason: reason.as_str().to_owned(),
        detail,
        raw,
        intake: intake.as_str(),
    }
}

fn new_event(e: PlannedEvent, lane: Option<Lane>, reason: Option<&str>) -> NewEvent {
    let n = e.normalized;
    NewEvent {
        id: e.event_id,
        contact_id: n.contact_id,
        event_type: n.event_type,
        event_timestamp: n.event_timestamp,
        attributes: n.attributes,
        raw: e.raw,
        request_id: e.request_id,
        dedup_key: e.dedup_key,
        lane,
        route_reason: reason.map(str::to_owned),
    }
}

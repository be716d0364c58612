//! The per-event result of ingestion (SPEC §2), also the shape of replay/release/discard results.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Accepted,
    Duplicate,
    Quarantined,
    Backfill,
    Reconciliation,
    /// A change event received and deliberately not ingested: a tombstone, or a delete its table's
    /// CDC mapping ignores (`reason` says which).
    Skipped,
    /// Admin operations only: the item was discarded.
    Discarded,
    /// Admin operations only: no such item in the state the operation needs.
    NotFound,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventResult {
    pub index: usize,
    /// The quarantine / reconciliation / dead-letter item an admin operation acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl EventResult {
    pub fn new(index: usize, status: Status) -> Self {
        Self {
            index,
            id: None,
            status,
            event_id: None,
            request_id: None,
            reason: None,
            detail: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Results {
    pub results: Vec<EventResult>,
}

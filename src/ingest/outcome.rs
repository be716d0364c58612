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

impl Status {
    /// The status as the answer writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Quarantined => "quarantined",
            Self::Backfill => "backfill",
            Self::Reconciliation => "reconciliation",
            Self::Skipped => "skipped",
            Self::Discarded => "discarded",
            Self::NotFound => "not_found",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Results {
    pub results: Vec<EventResult>,
}

impl Results {
    /// The answer's JSON, byte for byte what `serde_json` writes for it, written directly: the
    /// field names, statuses and ids need no escaping, and going through the serializer was 4 % of
    /// the service's instructions in `bench ingest` (callgrind; a third of that now, issue 12
    /// §3). Reasons and details, which can hold anything, still go through `serde_json`.
    pub fn to_json(&self) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::with_capacity(32 + self.results.len() * 140);
        out.extend_from_slice(b"{\"results\":[");
        for (i, r) in self.results.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{{\"index\":{}", r.index);
            push_uuid(&mut out, ",\"id\":", r.id);
            out.extend_from_slice(b",\"status\":\"");
            out.extend_from_slice(r.status.as_str().as_bytes());
            out.push(b'"');
            push_uuid(&mut out, ",\"event_id\":", r.event_id);
            push_uuid(&mut out, ",\"request_id\":", r.request_id);
            push_text(&mut out, ",\"reason\":", r.reason.as_deref());
            push_text(&mut out, ",\"detail\":", r.detail.as_deref());
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        out
    }
}

/// Answered as `application/json` ([`Results::to_json`]).
impl actix_web::Responder for Results {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, _: &actix_web::HttpRequest) -> actix_web::HttpResponse {
        actix_web::HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            .body(self.to_json())
    }
}

fn push_uuid(out: &mut Vec<u8>, field: &str, id: Option<Uuid>) {
    if let Some(id) = id {
        out.extend_from_slice(field.as_bytes());
        out.push(b'"');
        out.extend_from_slice(
            id.hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .as_bytes(),
        );
        out.push(b'"');
    }
}

fn push_text(out: &mut Vec<u8>, field: &str, text: Option<&str>) {
    if let Some(text) = text {
        out.extend_from_slice(field.as_bytes());
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const STATUSES: [Status; 8] = [
        Status::Accepted,
        Status::Duplicate,
        Status::Quarantined,
        Status::Backfill,
        Status::Reconciliation,
        Status::Skipped,
        Status::Discarded,
        Status::NotFound,
    ];

    #[test]
    fn each_status_is_written_as_serde_names_it() {
        for s in STATUSES {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    fn uuid() -> impl Strategy<Value = Option<Uuid>> {
        proptest::option::of(any::<u128>().prop_map(Uuid::from_u128))
    }

    proptest! {
        #[test]
        fn the_answer_is_what_serde_writes(
            results in proptest::collection::vec(
                (any::<usize>(), uuid(), 0..STATUSES.len(), uuid(), uuid(),
                 proptest::option::of(".{0,12}"), proptest::option::of("\\PC{0,20}|[\"\\\\\\x00-\\x1f]{0,4}")),
                0..6)
        ) {
            let results = Results {
                results: results
                    .into_iter()
                    .map(|(index, id, status, event_id, request_id, reason, detail)| EventResult {
                        index,
                        id,
                        status: STATUSES[status],
                        event_id,
                        request_id,
                        reason,
                        detail,
                    })
                    .collect(),
            };
            prop_assert_eq!(
                String::from_utf8(results.to_json()).unwrap(),
                serde_json::to_string(&results).unwrap()
            );
        }
    }
}

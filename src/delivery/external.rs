//! Delivery through the Genesys Cloud External Events API (issue 10 §3), as pure functions: the
//! entity an event becomes, the batched requests a round's ready heads make, and what an answer
//! means for each entity. The worker (`batched`) loads, calls and stores around them.
//!
//! `POST …/externalevents/configurations/{configurationId}/events` takes `{"entities": [...]}` and
//! answers 200 with the entities it did not take in (`unprocessedEntities`): partial success. Order
//! holds as with one request per event: the heads of a round are one per contact, and a request
//! carries at most one entity per contact, so a contact's next event goes only once this one was
//! delivered or dead-lettered (an entity answered retryable keeps its contact waiting).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::store::Head;
use crate::genesys::org::Org;
use crate::genesys::target::MAX_EVENTS_REQUEST_BYTES;
use crate::genesys::{ApiResponse, RetryCause, TransportError, Verdict, verdict};

/// The `ExternalEvent` of a head: its request id as the entity id (so a resend after a crash
/// carries the same id), its timestamp in UTC, the contact as an external id under the org's
/// External Source, and the canonical attributes exactly as stored. Nothing else: the API refuses
/// unknown fields.
pub fn entity(head: &Head, external_source_id: &str) -> Value {
    json!({
        "id": head.request_id.to_string(),
        "dateCreated": crate::normalize::time::format_utc(head.event_timestamp),
        "identifiers": {"externalIds": [{"value": head.contact_id, "externalSourceId": external_source_id}]},
        "attributes": head.attributes,
    })
}

/// `{"entities":[]}`: the bytes of a request body around its entities.
const EMPTY_BODY_BYTES: usize = r#"{"entities":[]}"#.len();

/// The serialized size of a body of `n` entities whose own sizes add up to `entity_bytes`: the
/// envelope, the entities and the commas between them (serde_json writes no spaces).
pub fn body_bytes(n: usize, entity_bytes: usize) -> usize {
    EMPTY_BODY_BYTES + entity_bytes + n.saturating_sub(1)
}

/// One head on its way: its entity, built once so every attempt sends the same bytes.
#[derive(Debug, Clone)]
pub struct Item {
    pub head: Head,
    pub entity: Value,
    /// The entity's serialized size.
    pub bytes: usize,
}

impl Item {
    pub fn new(head: Head, external_source_id: &str) -> Self {
        let entity = entity(&head, external_source_id);
        let bytes = entity.to_string().len();
        Self {
            head,
            entity,
            bytes,
        }
    }
}

/// One request: entities of one event type (one configuration), at most one per contact.
#[derive(Debug, Clone)]
pub struct Request {
    pub configuration_id: String,
    pub items: Vec<Item>,
}

impl Request {
    /// The `ExternalEventsRequest`.
    pub fn body(&self) -> Value {
        let entities: Vec<&Value> = self.items.iter().map(|i| &i.entity).collect();
        json!({ "entities": entities })
    }

    /// The entity ids in request order (what `unprocessedEntities` entries are matched against).
    pub fn ids(&self) -> Vec<String> {
        self.items
            .iter()
            .map(|i| i.head.request_id.to_string())
            .collect()
    }

    /// After a 413: the first and second half, each sent on its own; a single entity cannot be
    /// made smaller and comes back as it is.
    pub fn halves(mut self) -> Result<(Request, Request), Request> {
        if self.items.len() < 2 {
            return Err(self);
        }
        let second = self.items.split_off(self.items.len() / 2);
        let configuration_id = self.configuration_id.clone();
        Ok((
            self,
            Request {
                configuration_id,
                items: second,
            },
        ))
    }
}

/// What a round's ready heads become.
#[derive(Debug, Default)]
pub struct Plan {
    pub requests: Vec<Request>,
    /// Over the body limit on its own: dead-lettered with 413, never sent.
    pub oversized: Vec<Item>,
    /// Their event type has no events configuration in the org: they wait for setup.
    pub unconfigured: Vec<Head>,
    /// A second head of a contact already planned. Heads are one per contact, so this stays empty;
    /// were it not, sending both at once could reorder them, so the later ones wait untouched.
    pub repeated: Vec<Head>,
}

/// Groups `heads` by their event type's configuration and cuts each group into requests of at
/// most `batch` entities whose body is at most the documented 512,000 bytes. Never waits to fill a
/// request: whatever is ready goes.
pub fn plan(heads: Vec<Head>, org: &Org, batch: usize) -> Plan {
    plan_within(heads, org, batch.max(1), MAX_EVENTS_REQUEST_BYTES)
}

fn plan_within(heads: Vec<Head>, org: &Org, batch: usize, max_bytes: usize) -> Plan {
    let mut plan = Plan::default();
    let mut groups: BTreeMap<&str, Vec<Item>> = BTreeMap::new();
    let mut contacts = HashSet::new();
    for head in heads {
        let Some(configured) = org.event_types.get(&head.event_type) else {
            plan.unconfigured.push(head);
            continue;
        };
        if !contacts.insert(head.contact_id.clone()) {
            plan.repeated.push(head);
            continue;
        }
        let item = Item::new(head, &org.external_source_id);
        if body_bytes(1, item.bytes) > max_bytes {
            plan.oversized.push(item);
        } else {
            groups
                .entry(configured.configuration_id.as_str())
                .or_default()
                .push(item);
        }
    }
    for (configuration_id, items) in groups {
        let mut current = Request {
            configuration_id: configuration_id.to_owned(),
            items: Vec::new(),
        };
        let mut bytes = 0;
        for item in items {
            let n = current.items.len();
            if n == batch || body_bytes(n + 1, bytes + item.bytes) > max_bytes {
                let next = Request {
                    configuration_id: configuration_id.to_owned(),
                    items: Vec::new(),
                };
                plan.requests.push(std::mem::replace(&mut current, next));
                bytes = 0;
            }
            bytes += item.bytes;
            current.items.push(item);
        }
        if !current.items.is_empty() {
            plan.requests.push(current);
        }
    }
    plan
}

/// What an answer to one request means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: one entry per entity in request order, `None` for an entity taken in.
    Entities(Vec<Option<Unprocessed>>),
    /// 413: the body was too large; halve the request.
    TooLarge,
    /// 404: the configuration is gone (deleted, or another org's): the events wait for setup.
    ConfigurationGone,
    /// Anything else is about the whole request, as SPEC §5 reads it (429, 5xx, 401, timeouts;
    /// another 4xx is `Reject`: every entity is dead-lettered with the answer).
    Whole(Verdict),
}

/// An `unprocessedEntities` entry, read for its entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unprocessed {
    /// `Done` for a 409 (§5: already there), `Backoff` when `isRetryable`, else `Reject`.
    pub verdict: Verdict,
    /// Its `statusCode`, 400 when absent: a dead letter's status.
    pub status: u16,
    /// The entry itself: a dead letter's response body.
    pub entry: String,
}

/// Reads the answer to a request whose entities had these `ids`.
pub fn read_answer(result: &Result<ApiResponse, TransportError>, ids: &[String]) -> Answer {
    match result {
        Ok(r) if (200..=299).contains(&r.status) => Answer::Entities(unprocessed(&r.body, ids)),
        Ok(r) if r.status == 413 => Answer::TooLarge,
        Ok(r) if r.status == 404 => Answer::ConfigurationGone,
        _ => Answer::Whole(verdict(result)),
    }
}

/// Each entity's entry in `unprocessedEntities`, if any. A 200 whose body names none (or cannot
/// be read) took everything in.
fn unprocessed(body: &str, ids: &[String]) -> Vec<Option<Unprocessed>> {
    let mut out = vec![None; ids.len()];
    let answer: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let entries = answer.get("unprocessedEntities").and_then(Value::as_array);
    for entry in entries.into_iter().flatten() {
        if let Some(i) = position(entry, ids) {
            out[i] = Some(read_entry(entry));
        }
    }
    out
}

/// Which entity an entry is about: its `originalRequestIndex`, unless that is out of range or
/// names another entity than the entry's `event.id`; then the entity with that id.
fn position(entry: &Value, ids: &[String]) -> Option<usize> {
    let id = entry.pointer("/event/id").and_then(Value::as_str);
    let by_index = entry
        .get("originalRequestIndex")
        .and_then(Value::as_u64)
        .and_then(|i| usize::try_from(i).ok())
        .filter(|&i| i < ids.len() && id.is_none_or(|id| ids[i] == id));
    by_index.or_else(|| id.and_then(|id| ids.iter().position(|x| x == id)))
}

fn read_entry(entry: &Value) -> Unprocessed {
    let status = entry
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    let retryable = entry.get("isRetryable").and_then(Value::as_bool) == Some(true);
    let verdict = match status {
        Some(409) => Verdict::Done,
        _ if retryable => Verdict::Backoff(retry_cause(status)),
        _ => Verdict::Reject,
    };
    Unprocessed {
        verdict,
        status: status.unwrap_or(400),
        entry: entry.to_string(),
    }
}

/// What a retryable entity's status says went wrong (for the retry counters).
fn retry_cause(status: Option<u16>) -> RetryCause {
    match status {
        Some(429) => RetryCause::RateLimited,
        Some(401) => RetryCause::Unauthorized,
        Some(408) => RetryCause::Timeout,
        _ => RetryCause::ServerError,
    }
}

/// The body of the dead letter of an entity too large to send at all.
pub fn oversized_body(bytes: usize) -> String {
    json!({
        "error": "request.entity.too.large",
        "message": format!(
            "this event alone makes a request body of {bytes} bytes, over the External Events \
             API's limit of {MAX_EVENTS_REQUEST_BYTES}; it was not sent"
        ),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesys::org::Configured;
    use chrono::{TimeZone, Utc};
    use std::time::Duration;
    use uuid::Uuid;

    fn head(contact: &str, event_type: &str, n: u128) -> Head {
        Head {
            id: Uuid::from_u128(n + 1000),
            contact_id: contact.into(),
            event_type: event_type.into(),
            event_timestamp: Utc.timestamp_millis_opt(1_800_000_000_250).unwrap(),
            attributes: json!({"crm_record_id": format!("R{n}"), "quantity": 2, "value": 2.5}),
            request_id: Uuid::from_u128(n),
            received_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            newest_realtime_ts: None,
        }
    }

    fn org() -> Org {
        let configured = |c: &str| Configured {
            schema_id: format!("schema-{c}"),
            schema_version: 1,
            configuration_id: c.into(),
        };
        Org {
            base_url: "https://api.mypurecloud.ie".into(),
            external_source_id: "src-1".into(),
            external_source_name: "pesync".into(),
            division_id: "div".into(),
            setup_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            event_types: [
                ("crm.transaction".to_owned(), configured("cfg-t")),
                ("crm.behavior".to_owned(), configured("cfg-b")),
            ]
            .into(),
        }
    }

    #[test]
    fn an_entity_is_the_event_and_nothing_else() {
        let e = entity(&head("c-1", "crm.transaction", 7), "src-1");
        assert_eq!(
            e,
            json!({
                "id": Uuid::from_u128(7).to_string(),
                "dateCreated": "2027-01-15T08:00:00.250Z",
                "identifiers": {"externalIds": [{"value": "c-1", "externalSourceId": "src-1"}]},
                "attributes": {"crm_record_id": "R7", "quantity": 2, "value": 2.5},
            })
        );
        assert!(
            e["attributes"]["quantity"].is_u64(),
            "integers stay integers"
        );
        let whole = head("c-1", "t", 1);
        let whole = Head {
            event_timestamp: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            ..whole
        };
        assert_eq!(entity(&whole, "s")["dateCreated"], "2027-01-15T08:00:00Z");
    }

    #[test]
    fn body_bytes_are_the_serialized_size() {
        let items: Vec<Item> = (0..5)
            .map(|i| Item::new(head(&format!("c-{i}"), "crm.transaction", i), "src-1"))
            .collect();
        for n in 0..=5 {
            let request = Request {
                configuration_id: "x".into(),
                items: items[..n].to_vec(),
            };
            let sum = request.items.iter().map(|i| i.bytes).sum();
            assert_eq!(
                body_bytes(n, sum),
                serde_json::to_vec(&request.body()).unwrap().len()
            );
        }
    }

    #[test]
    fn heads_are_grouped_by_configuration_and_cut_into_batches() {
        let mut heads: Vec<Head> = (0..7)
            .map(|i| head(&format!("t-{i}"), "crm.transaction", i))
            .collect();
        heads.extend((0..2).map(|i| head(&format!("b-{i}"), "crm.behavior", 100 + i)));
        heads.push(head("u-1", "crm.unknown", 200));
        let plan = plan(heads, &org(), 3);
        let shape: Vec<(&str, usize)> = plan
            .requests
            .iter()
            .map(|r| (r.configuration_id.as_str(), r.items.len()))
            .collect();
        assert_eq!(
            shape,
            [("cfg-b", 2), ("cfg-t", 3), ("cfg-t", 3), ("cfg-t", 1)]
        );
        for r in &plan.requests {
            let want = if r.configuration_id == "cfg-t" {
                "crm.transaction"
            } else {
                "crm.behavior"
            };
            assert!(r.items.iter().all(|i| i.head.event_type == want));
            assert_eq!(
                r.body()["entities"].as_array().unwrap().len(),
                r.items.len()
            );
        }
        assert_eq!(plan.unconfigured.len(), 1);
        assert_eq!(plan.unconfigured[0].event_type, "crm.unknown");
        assert!(plan.oversized.is_empty() && plan.repeated.is_empty());
    }

    #[test]
    fn a_contact_is_never_twice_in_flight() {
        let heads = vec![
            head("c-1", "crm.transaction", 1),
            head("c-2", "crm.transaction", 2),
            head("c-1", "crm.transaction", 3),
            head("c-1", "crm.behavior", 4),
        ];
        let plan = plan(heads, &org(), 100);
        let planned: Vec<&str> = plan
            .requests
            .iter()
            .flat_map(|r| r.items.iter().map(|i| i.head.contact_id.as_str()))
            .collect();
        assert_eq!(planned, ["c-1", "c-2"]);
        let repeated: Vec<u128> = plan
            .repeated
            .iter()
            .map(|h| h.request_id.as_u128())
            .collect();
        assert_eq!(repeated, [3, 4]);
    }

    #[test]
    fn requests_stay_within_the_body_limit() {
        let heads: Vec<Head> = (0..10)
            .map(|i| head(&format!("c-{i}"), "crm.transaction", i))
            .collect();
        let one = Item::new(heads[0].clone(), "src-1").bytes;
        // Room for exactly three entities (all the same size here).
        let limit = body_bytes(3, 3 * one);
        let plan = plan_within(heads.clone(), &org(), 100, limit);
        let sizes: Vec<usize> = plan.requests.iter().map(|r| r.items.len()).collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
        for r in &plan.requests {
            assert!(serde_json::to_vec(&r.body()).unwrap().len() <= limit);
        }
        // One byte less and only two fit.
        let plan = plan_within(heads.clone(), &org(), 100, limit - 1);
        assert!(plan.requests.iter().all(|r| r.items.len() == 2));
        // Too large alone: dead-lettered, never sent.
        let plan = plan_within(heads, &org(), 100, body_bytes(1, one) - 1);
        assert!(plan.requests.is_empty());
        assert_eq!(plan.oversized.len(), 10);
        assert!(oversized_body(one).contains("not sent"));
    }

    #[test]
    fn the_real_limit_takes_a_full_batch_of_ordinary_events() {
        let heads: Vec<Head> = (0..1000)
            .map(|i| head(&format!("c-{i}"), "crm.transaction", i))
            .collect();
        let plan = plan(heads, &org(), 1000);
        assert_eq!(plan.requests.len(), 1);
        let mut big = head("c-big", "crm.transaction", 1);
        big.attributes = json!({"note": "x".repeat(MAX_EVENTS_REQUEST_BYTES)});
        let plan = super::plan(vec![big], &org(), 100);
        assert_eq!(plan.oversized.len(), 1);
    }

    #[test]
    fn a_too_large_request_splits_in_halves_down_to_one_entity() {
        let items: Vec<Item> = (0..5)
            .map(|i| Item::new(head(&format!("c-{i}"), "crm.transaction", i), "src-1"))
            .collect();
        let request = Request {
            configuration_id: "cfg-t".into(),
            items,
        };
        let (a, b) = request.halves().unwrap();
        assert_eq!((a.items.len(), b.items.len()), (2, 3));
        assert_eq!(b.configuration_id, "cfg-t");
        assert_eq!(a.ids()[0], Uuid::from_u128(0).to_string());
        assert_eq!(b.ids()[0], Uuid::from_u128(2).to_string());
        let (one, _) = a.halves().unwrap();
        let alone = one.halves().unwrap_err();
        assert_eq!(alone.items.len(), 1);
    }

    fn ok(status: u16, body: Value) -> Result<ApiResponse, TransportError> {
        Ok(ApiResponse {
            status,
            body: body.to_string(),
            retry_after: None,
        })
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("id-{i}")).collect()
    }

    fn verdicts(answer: Answer) -> Vec<Option<(Verdict, u16)>> {
        let Answer::Entities(entries) = answer else {
            panic!("not a 200: {answer:?}")
        };
        entries
            .into_iter()
            .map(|e| e.map(|u| (u.verdict, u.status)))
            .collect()
    }

    #[test]
    fn a_200_delivers_all_but_the_unprocessed() {
        let body = json!({"unprocessedEntities": [
            {"event": {"id": "id-1"}, "originalRequestIndex": 1, "isRetryable": true, "statusCode": 503},
            {"event": {"id": "id-2"}, "originalRequestIndex": 2, "isRetryable": false, "statusCode": 422},
            {"event": {"id": "id-3"}, "originalRequestIndex": 3, "isRetryable": false},
            {"event": {"id": "id-4"}, "originalRequestIndex": 4, "isRetryable": false, "statusCode": 409},
            {"event": {"id": "id-5"}, "originalRequestIndex": 5, "isRetryable": true, "statusCode": 429},
        ]});
        let answer = read_answer(&ok(200, body.clone()), &ids(7));
        assert_eq!(
            verdicts(answer.clone()),
            [
                None,
                Some((Verdict::Backoff(RetryCause::ServerError), 503)),
                Some((Verdict::Reject, 422)),
                Some((Verdict::Reject, 400)),
                Some((Verdict::Done, 409)),
                Some((Verdict::Backoff(RetryCause::RateLimited), 429)),
                None,
            ]
        );
        let Answer::Entities(entries) = answer else {
            unreachable!()
        };
        let entry: Value = serde_json::from_str(&entries[2].as_ref().unwrap().entry).unwrap();
        assert_eq!(entry, body["unprocessedEntities"][1], "the entry, whole");
        assert_eq!(
            verdicts(read_answer(
                &ok(200, json!({"unprocessedEntities": []})),
                &ids(2)
            )),
            [None, None]
        );
        assert_eq!(verdicts(read_answer(&ok(200, json!({})), &ids(1))), [None]);
    }

    #[test]
    fn entries_are_matched_by_index_then_by_id() {
        let body = json!({"unprocessedEntities": [
            // Index out of range: the id says which.
            {"event": {"id": "id-0"}, "originalRequestIndex": 9, "isRetryable": false, "statusCode": 400},
            // Index and id disagree: the id wins.
            {"event": {"id": "id-2"}, "originalRequestIndex": 1, "isRetryable": true, "statusCode": 500},
            // No index at all.
            {"event": {"id": "id-3"}, "isRetryable": false, "statusCode": 400},
            // Names nothing that was sent: ignored.
            {"event": {"id": "other"}, "isRetryable": false, "statusCode": 400},
            "not an entry",
        ]});
        let got = verdicts(read_answer(&ok(200, body), &ids(5)));
        assert_eq!(
            got,
            [
                Some((Verdict::Reject, 400)),
                None,
                Some((Verdict::Backoff(RetryCause::ServerError), 500)),
                Some((Verdict::Reject, 400)),
                None,
            ]
        );
        // Index alone, without an event.
        let body =
            json!({"unprocessedEntities": [{"originalRequestIndex": 0, "isRetryable": true}]});
        assert_eq!(
            verdicts(read_answer(&ok(200, body), &ids(1))),
            [Some((Verdict::Backoff(RetryCause::ServerError), 400))]
        );
    }

    #[test]
    fn whole_request_answers() {
        let ids = ids(3);
        let answer = |status: u16| read_answer(&ok(status, json!({"message": "x"})), &ids);
        assert_eq!(answer(413), Answer::TooLarge);
        assert_eq!(answer(404), Answer::ConfigurationGone);
        assert_eq!(answer(400), Answer::Whole(Verdict::Reject));
        assert_eq!(answer(422), Answer::Whole(Verdict::Reject));
        assert_eq!(
            answer(401),
            Answer::Whole(Verdict::Backoff(RetryCause::Unauthorized))
        );
        assert_eq!(
            answer(503),
            Answer::Whole(Verdict::Backoff(RetryCause::ServerError))
        );
        assert_eq!(
            answer(429),
            Answer::Whole(Verdict::Backoff(RetryCause::RateLimited))
        );
        let throttled = Ok(ApiResponse {
            status: 429,
            body: String::new(),
            retry_after: Some(Duration::from_secs(3)),
        });
        assert_eq!(
            read_answer(&throttled, &ids),
            Answer::Whole(Verdict::RetryAfter(Duration::from_secs(3)))
        );
        assert_eq!(
            read_answer(&Err(TransportError::Timeout), &ids),
            Answer::Whole(Verdict::Backoff(RetryCause::Timeout))
        );
        // A 2xx whose body cannot be read still took the request.
        let garbled = Ok(ApiResponse {
            status: 200,
            body: "<html>".into(),
            retry_after: None,
        });
        assert_eq!(verdicts(read_answer(&garbled, &ids)), [None, None, None]);
    }
}

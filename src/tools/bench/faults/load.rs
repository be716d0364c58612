//! The load the faults are injected under, and the books kept on it: a producer posting signed
//! NDJSON batches the way a CRM would (answered 503 or a dropped connection → the same batch again),
//! a ledger of what the service answered for every event, and the tally of what reached the
//! simulator: delivered, lost, delivered under another request id, out of order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::ingest::signature;
use crate::normalize::dedup;
use crate::simulator::SimEvent;

pub const SOURCE: &str = "faults";
pub const EVENT_TYPE: &str = "crm.transaction";

/// What one producer sends: `batches` batches of `batch_size` events, one every `pace`.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub batches: usize,
    pub batch_size: usize,
    pub contacts: usize,
    pub pace: Duration,
}

/// An event the service answered for.
#[derive(Debug, Clone)]
struct Sent {
    contact: String,
    request_id: Uuid,
    status: String,
}

/// HTTP answers the producer got, by kind.
#[derive(Debug, Default)]
pub struct Answers {
    pub ok: AtomicU64,
    pub unavailable_503: AtomicU64,
    /// Any 5xx but 503: a server error the sender cannot act on (the figure that must be 0).
    pub server_errors: AtomicU64,
    pub other_4xx: AtomicU64,
    pub connection_errors: AtomicU64,
}

/// Every event the harness sent, with the service's last answer for it.
#[derive(Default)]
pub struct Ledger {
    sent: Mutex<HashMap<String, Sent>>,
    pub answers: Answers,
    next: AtomicU64,
    last_ts: Mutex<Option<DateTime<Utc>>>,
}

impl Ledger {
    /// A batch of new events with unique record ids over `contacts` contacts. Timestamps strictly
    /// increase across batches, so (with one producer) a contact's arrival order is its time order.
    fn batch(&self, plan: &Plan) -> Vec<u8> {
        let mut ts = self.last_ts.lock().expect("lock");
        let mut body = Vec::new();
        for _ in 0..plan.batch_size {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let now = Utc::now();
            let t = match *ts {
                Some(last) if last >= now => last + chrono::Duration::microseconds(1),
                _ => now,
            };
            *ts = Some(t);
            let event = json!({"contact_id": format!("fc-{}", n % plan.contacts.max(1) as u64),
                "event_type": EVENT_TYPE, "event_timestamp": t.to_rfc3339(),
                "attributes": {"crm_record_id": format!("fr-{n}"), "transaction_value": n}});
            serde_json::to_writer(&mut body, &event).expect("an event serializes");
            body.push(b'\n');
        }
        body
    }

    fn record(&self, body: &[u8], results: &[ResultItem]) {
        let mut sent = self.sent.lock().expect("lock");
        for (line, r) in body.split(|b| *b == b'\n').zip(results) {
            let Ok(event) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            let contact = event["contact_id"].as_str().unwrap_or_default().to_owned();
            let record = event["attributes"]["crm_record_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let key = dedup::dedup_key(&contact, EVENT_TYPE, &record);
            let entry = Sent {
                contact,
                request_id: dedup::request_id(&key),
                status: r.status.clone(),
            };
            // A batch sent again after a lost answer comes back `duplicate`: the first answer
            // (committed, unseen) was `accepted`, so an event once accepted stays accepted.
            sent.entry(record)
                .and_modify(|s| {
                    if s.status != "accepted" {
                        s.status = entry.status.clone();
                    }
                })
                .or_insert(entry);
        }
    }
}

#[derive(Deserialize)]
struct Results {
    results: Vec<ResultItem>,
}

#[derive(Deserialize)]
struct ResultItem {
    status: String,
}

/// Posts the plan's batches to `targets` (round robin; the next one after a failure), each batch
/// until it is answered 200 or `deadline` passes. Returns when every batch is answered or the
/// deadline passed.
pub async fn produce(
    ledger: &Ledger,
    targets: &[String],
    secret: &str,
    plan: Plan,
    deadline: Instant,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut target = 0;
    for _ in 0..plan.batches {
        let started = Instant::now();
        let body = ledger.batch(&plan);
        while Instant::now() < deadline {
            let url = format!("{}/v1/sources/{SOURCE}/events", targets[target]);
            match post(&http, &url, secret, &body).await {
                Ok(results) => {
                    ledger.answers.ok.fetch_add(1, Ordering::Relaxed);
                    ledger.record(&body, &results);
                    break;
                }
                Err(kind) => {
                    count_failure(&ledger.answers, kind);
                    target = (target + 1) % targets.len();
                    if kind == Failure::Rejected {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        if let Some(rest) = plan.pace.checked_sub(started.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Connection,
    Unavailable,
    ServerError,
    /// A 4xx: sending it again would not help.
    Rejected,
}

fn count_failure(a: &Answers, kind: Failure) {
    let counter = match kind {
        Failure::Connection => &a.connection_errors,
        Failure::Unavailable => &a.unavailable_503,
        Failure::ServerError => &a.server_errors,
        Failure::Rejected => &a.other_4xx,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &[u8],
) -> Result<Vec<ResultItem>, Failure> {
    let t = Utc::now().timestamp();
    let r = http
        .post(url)
        .header("Content-Type", "application/x-ndjson")
        .header(
            signature::HEADER,
            signature::header_value(secret.as_bytes(), t, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .map_err(|_| Failure::Connection)?;
    match r.status().as_u16() {
        200 => {
            let parsed: Results = r.json().await.map_err(|_| Failure::Connection)?;
            Ok(parsed.results)
        }
        503 => Err(Failure::Unavailable),
        status => {
            let body = r.text().await.unwrap_or_default();
            tracing::warn!(status, %body, "ingestion did not take a batch");
            if status >= 500 {
                Err(Failure::ServerError)
            } else {
                Err(Failure::Rejected)
            }
        }
    }
}

/// What reached the simulator, checked against the ledger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Events answered `accepted` (or `duplicate` of an accepted first try whose answer was lost).
    pub accepted: usize,
    /// Accepted events the simulator has under their own request id.
    pub delivered: usize,
    pub lost: usize,
    /// Events the simulator received under a request id other than their own, or never sent.
    pub wrong_id: usize,
    /// A contact's event received after one with a later timestamp.
    pub order_violations: usize,
    /// Events answered anything but accepted/duplicate (quarantined, backfill, …): should be 0.
    pub other_status: usize,
}

impl Ledger {
    /// Compares the ledger with the events the simulator accepted (in its arrival order).
    pub fn tally(&self, received: &[SimEvent]) -> Tally {
        let sent = self.sent.lock().expect("lock");
        let mut t = Tally::default();
        for s in sent.values() {
            match s.status.as_str() {
                "accepted" | "duplicate" => t.accepted += 1,
                _ => t.other_status += 1,
            }
        }
        let mut delivered = HashSet::new();
        let mut by_contact: BTreeMap<&str, Vec<&SimEvent>> = BTreeMap::new();
        for e in received {
            by_contact.entry(&e.contact_id).or_default().push(e);
            let record = e.attributes.get("crm_record_id").and_then(|v| v.as_str());
            match record.and_then(|r| sent.get(r).map(|s| (r, s))) {
                Some((r, s))
                    if s.request_id.to_string() == e.request_id && s.contact == e.contact_id =>
                {
                    delivered.insert(r.to_owned());
                }
                _ => t.wrong_id += 1,
            }
        }
        t.delivered = delivered.len();
        t.lost = sent
            .iter()
            .filter(|(r, s)| is_accepted(s) && !delivered.contains(*r))
            .count();
        t.order_violations = by_contact.values().map(|es| order_violations(es)).sum();
        t
    }
}

fn is_accepted(s: &Sent) -> bool {
    s.status == "accepted" || s.status == "duplicate"
}

/// Events (in arrival order) whose timestamp is earlier than one received before them.
fn order_violations(events: &[&SimEvent]) -> usize {
    let mut latest: Option<DateTime<Utc>> = None;
    let mut n = 0;
    for e in events {
        match latest {
            Some(l) if e.event_timestamp < l => n += 1,
            _ => latest = Some(e.event_timestamp),
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            batches: 1,
            batch_size: 4,
            contacts: 2,
            pace: Duration::ZERO,
        }
    }

    fn answered(ledger: &Ledger, statuses: &[&str]) -> Vec<u8> {
        let body = ledger.batch(&Plan {
            batch_size: statuses.len(),
            ..plan()
        });
        let results: Vec<ResultItem> = statuses
            .iter()
            .map(|s| ResultItem {
                status: (*s).to_owned(),
            })
            .collect();
        ledger.record(&body, &results);
        body
    }

    /// The simulator's view of a sent line, under `request_id` (its own when `None`).
    fn received(line: &[u8], seq: u64, request_id: Option<Uuid>) -> SimEvent {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let contact = v["contact_id"].as_str().unwrap().to_owned();
        let record = v["attributes"]["crm_record_id"].as_str().unwrap();
        let own = dedup::request_id(&dedup::dedup_key(&contact, EVENT_TYPE, record));
        SimEvent {
            seq,
            request_id: request_id.unwrap_or(own).to_string(),
            contact_id: contact,
            event_type: EVENT_TYPE.to_owned(),
            event_timestamp: DateTime::parse_from_rfc3339(v["event_timestamp"].as_str().unwrap())
                .unwrap()
                .to_utc(),
            attributes: v["attributes"].as_object().unwrap().clone(),
            received_at: Utc::now(),
        }
    }

    fn lines(body: &[u8]) -> Vec<&[u8]> {
        body.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect()
    }

    #[test]
    fn an_accepted_event_the_simulator_never_received_is_lost() {
        let ledger = Ledger::default();
        let body = answered(&ledger, &["accepted", "accepted", "accepted"]);
        let l = lines(&body);
        let got = vec![received(l[0], 1, None), received(l[2], 2, None)];
        let t = ledger.tally(&got);
        assert_eq!((t.accepted, t.delivered, t.lost, t.wrong_id), (3, 2, 1, 0));
    }

    #[test]
    fn an_event_under_another_request_id_is_counted_wrong_and_not_delivered() {
        let ledger = Ledger::default();
        let body = answered(&ledger, &["accepted"]);
        let got = vec![received(lines(&body)[0], 1, Some(Uuid::new_v4()))];
        let t = ledger.tally(&got);
        assert_eq!((t.delivered, t.lost, t.wrong_id), (0, 1, 1));
    }

    #[test]
    fn a_contact_s_events_received_out_of_time_order_are_violations() {
        let ledger = Ledger::default();
        // Four events over two contacts: 0 and 2 are contact fc-0, in that time order.
        let body = answered(&ledger, &["accepted"; 4]);
        let l = lines(&body);
        let got = vec![
            received(l[2], 1, None),
            received(l[1], 2, None),
            received(l[0], 3, None),
            received(l[3], 4, None),
        ];
        let t = ledger.tally(&got);
        assert_eq!((t.delivered, t.order_violations), (4, 1));
    }

    #[test]
    fn a_batch_sent_again_after_a_lost_answer_stays_accepted() {
        let ledger = Ledger::default();
        let body = answered(&ledger, &["accepted"]);
        let results = [ResultItem {
            status: "duplicate".to_owned(),
        }];
        ledger.record(&body, &results);
        let t = ledger.tally(&[]);
        assert_eq!((t.accepted, t.lost, t.other_status), (1, 1, 0));
    }

    #[test]
    fn events_not_routed_to_delivery_are_counted_apart() {
        let ledger = Ledger::default();
        answered(&ledger, &["accepted", "quarantined"]);
        let t = ledger.tally(&[]);
        assert_eq!((t.accepted, t.other_status, t.lost), (1, 1, 1));
    }
}

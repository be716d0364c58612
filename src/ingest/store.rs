//! Durable writes of the ingestion stage. Everything of one request goes into one transaction the
//! caller commits before answering (SPEC §2 "nothing is lost"); each write is one multi-row statement
//! (`UNNEST` of arrays), so a 1,000-event batch costs a handful of round trips, not thousands.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::delivery::Lane;
use crate::normalize::Attributes;

pub struct NewQuarantine {
    pub id: Uuid,
    pub reason: String,
    pub detail: String,
    pub raw: Value,
    /// `events` or `cdc` (see `plan::Intake`).
    pub intake: &'static str,
}

pub async fn insert_quarantine(
    tx: &mut PgConnection,
    source: &str,
    items: &[NewQuarantine],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = items.iter().map(|q| q.id).collect();
    let reasons: Vec<String> = items.iter().map(|q| q.reason.clone()).collect();
    let details: Vec<String> = items.iter().map(|q| q.detail.clone()).collect();
    let raws: Vec<Json<&Value>> = items.iter().map(|q| Json(&q.raw)).collect();
    let intakes: Vec<String> = items.iter().map(|q| q.intake.to_owned()).collect();
    sqlx::query!(
        r#"INSERT INTO quarantine (id, source, reason, detail, raw, received_at, intake)
           SELECT id, $2, reason, detail, raw, $6, intake
           FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::jsonb[], $7::text[])
                AS t(id, reason, detail, raw, intake)"#,
        &ids,
        source,
        &reasons,
        &details,
        // `as _`: jsonb[] from borrowed documents, which the macro's type check does not know.
        &raws as _,
        now,
        &intakes
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Which keys [`claim_dedup_keys`] registered.
#[derive(Debug)]
pub enum Claimed {
    /// Every key: all were new, as in most requests (told without a set of them).
    All,
    /// These keys; the others are duplicates.
    These(HashSet<[u8; 32]>),
}

impl Claimed {
    pub fn won(&self, key: &[u8; 32]) -> bool {
        match self {
            Self::All => true,
            Self::These(won) => won.contains(key),
        }
    }
}

/// Registers dedup keys; says which are new. A key is new when never seen, or when its first
/// sighting is at least `window` old, in which case the sighting is replaced (SPEC §4). The
/// unique key makes concurrent requests with the same key queue behind each other, so exactly one
/// of them wins. Keys must be distinct within one call.
///
/// Most requests bring only new keys, so a plain insert is tried first, in a savepoint: it takes
/// them all without the per-row work of `ON CONFLICT` (a speculative insertion, confirmed with a
/// second write), which made the claim cost PostgreSQL about twice what inserting the keys does
/// (issue 12 §3). When one key is already there, the savepoint undoes the insert and the upsert
/// decides key by key. A request of fewer than [`PLAIN_INSERT_FROM`] keys goes to the upsert at
/// once: the savepoint's two round trips cost it more than the upsert's per-row work.
pub async fn claim_dedup_keys(
    tx: &mut PgConnection,
    keys: &[([u8; 32], Uuid)],
    now: DateTime<Utc>,
    window: Duration,
) -> sqlx::Result<Claimed> {
    if keys.is_empty() {
        return Ok(Claimed::All);
    }
    let k: Vec<&[u8]> = keys.iter().map(|(k, _)| &k[..]).collect();
    let ids: Vec<Uuid> = keys.iter().map(|(_, id)| *id).collect();
    if keys.len() >= PLAIN_INSERT_FROM && all_new(tx, &k, &ids, now).await? {
        return Ok(Claimed::All);
    }
    let won = sqlx::query_scalar!(
        r#"INSERT INTO dedup_keys (dedup_key, first_seen, event_id)
           SELECT k, $3, id FROM UNNEST($1::bytea[], $2::uuid[]) AS t(k, id)
           ON CONFLICT (dedup_key) DO UPDATE
           SET first_seen = EXCLUDED.first_seen, event_id = EXCLUDED.event_id
           WHERE dedup_keys.first_seen <= $4
           RETURNING dedup_key"#,
        &k as &[&[u8]],
        &ids,
        now,
        now - window
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(Claimed::These(
        won.into_iter()
            .filter_map(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
            .collect(),
    ))
}

/// From how many keys [`claim_dedup_keys`] tries a plain insert first.
pub const PLAIN_INSERT_FROM: usize = 16;

/// Inserts keys that are all new, in a savepoint; `false`, with nothing inserted, when one is not.
async fn all_new(
    tx: &mut PgConnection,
    keys: &[&[u8]],
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
    let inserted = sqlx::query!(
        r#"INSERT INTO dedup_keys (dedup_key, first_seen, event_id)
           SELECT k, $3, id FROM UNNEST($1::bytea[], $2::uuid[]) AS t(k, id)"#,
        keys as &[&[u8]],
        ids,
        now
    )
    .execute(&mut *savepoint)
    .await;
    match inserted {
        Ok(_) => savepoint.commit().await.map(|()| true),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            savepoint.rollback().await.map(|()| false)
        }
        Err(e) => Err(e),
    }
}

pub struct NewEvent {
    pub id: Uuid,
    pub contact_id: String,
    pub event_type: String,
    pub event_timestamp: DateTime<Utc>,
    pub attributes: Attributes,
    /// JSON text (`PlannedEvent::raw`).
    pub raw: String,
    pub request_id: Uuid,
    pub dedup_key: [u8; 32],
    /// `None` for the reconciliation queue.
    pub lane: Option<Lane>,
    pub route_reason: Option<String>,
}

pub struct Versions {
    pub mapping: i32,
    pub manifest: i32,
}

/// Stores the events of one request, in arrival order: the identity values follow `ORDER BY ord`,
/// so `seq` is the arrival order within the request. The raw documents are bound as the text they
/// were planned as and cast to `jsonb` in the statement.
///
/// `INSERT … SELECT FROM UNNEST`, not binary COPY (issue 12 §3): over the same `bench ingest`, the
/// COPY took PostgreSQL 30.2–30.8 ms a request against 26.5–28.2 ms for this statement
/// (`pg_stat_statements`, the two builds alternating; docs/BENCHMARKS.md).
pub async fn insert_events(
    tx: &mut PgConnection,
    source: &str,
    versions: &Versions,
    events: &[NewEvent],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let contacts: Vec<&str> = events.iter().map(|e| e.contact_id.as_str()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let ts: Vec<DateTime<Utc>> = events.iter().map(|e| e.event_timestamp).collect();
    let attrs: Vec<Json<&Attributes>> = events.iter().map(|e| Json(&e.attributes)).collect();
    let raws: Vec<&str> = events.iter().map(|e| e.raw.as_str()).collect();
    let rids: Vec<Uuid> = events.iter().map(|e| e.request_id).collect();
    let keys: Vec<&[u8]> = events.iter().map(|e| &e.dedup_key[..]).collect();
    let lanes: Vec<Option<&str>> = events.iter().map(|e| e.lane.map(Lane::as_str)).collect();
    let states: Vec<&str> = events
        .iter()
        .map(|e| {
            if e.lane.is_some() {
                "pending"
            } else {
                "reconciliation"
            }
        })
        .collect();
    let reasons: Vec<Option<&str>> = events.iter().map(|e| e.route_reason.as_deref()).collect();
    sqlx::query!(
        r#"INSERT INTO events (id, source, contact_id, event_type, event_timestamp, attributes, raw,
                               request_id, dedup_key, mapping_version, manifest_version, received_at,
                               lane, state, route_reason)
           SELECT id, $2, contact_id, event_type, ts, attrs, raw::jsonb, rid, key, $10, $11, $12, lane, state, reason
           FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::text[],
                       $8::uuid[], $9::bytea[], $13::text[], $14::text[], $15::text[])
                WITH ORDINALITY AS t(id, contact_id, event_type, ts, attrs, raw, rid, key, lane, state, reason, ord)
           ORDER BY ord"#,
        &ids,
        source,
        &contacts as &[&str],
        &types as &[&str],
        &ts,
        &attrs as _,
        &raws as &[&str],
        &rids,
        &keys as &[&[u8]],
        versions.mapping,
        versions.manifest,
        now,
        &lanes as &[Option<&str>],
        &states as &[&str],
        &reasons as &[Option<&str>]
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

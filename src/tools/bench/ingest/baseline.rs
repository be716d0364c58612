//! The baseline side of `bench ingest`: the rows ingestion would write for the same events,
//! inserted straight into `baseline.*` (tables created `LIKE` the real ones) with the statements of
//! the ingestion path, one transaction per batch.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Shape, event, timed_in_parallel};
use crate::normalize::dedup;
use crate::tools::bench::service::SOURCE;

pub(super) async fn create_baseline_tables(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(
        "CREATE SCHEMA baseline;
         CREATE TABLE baseline.events (LIKE public.events INCLUDING ALL);
         CREATE TABLE baseline.dedup_keys (LIKE public.dedup_keys INCLUDING ALL);",
    )
    .execute(pool)
    .await
    .context("creating the baseline tables")?;
    Ok(())
}

/// One batch's rows, column by column, as the ingestion path binds them. The JSON documents are
/// held as their text (bound as `jsonb` exactly as a `Value` would be): a run's 100,000 events as
/// `Value` maps took some 200 MiB of the process whose peak RSS the benchmark reports.
struct Rows {
    ids: Vec<Uuid>,
    contacts: Vec<String>,
    types: Vec<String>,
    timestamps: Vec<DateTime<Utc>>,
    attributes: Vec<Json<Box<RawValue>>>,
    raws: Vec<Json<Box<RawValue>>>,
    request_ids: Vec<Uuid>,
    keys: Vec<Vec<u8>>,
    lanes: Vec<String>,
    states: Vec<String>,
    reasons: Vec<Option<String>>,
}

impl Rows {
    fn new(shape: &Shape, tag: &str, batch: usize, at: DateTime<Utc>) -> Self {
        let mut rows = Rows {
            ids: vec![],
            contacts: vec![],
            types: vec![],
            timestamps: vec![],
            attributes: vec![],
            raws: vec![],
            request_ids: vec![],
            keys: vec![],
            lanes: vec![],
            states: vec![],
            reasons: vec![],
        };
        for i in 0..shape.batch_size {
            let raw = event(shape, "baseline", tag, batch, i, at);
            let contact = raw["contact_id"].as_str().unwrap_or_default().to_owned();
            let record = raw["attributes"]["crm_record_id"]
                .as_str()
                .unwrap_or_default();
            let key = dedup::dedup_key(&contact, "crm.transaction", record);
            rows.ids.push(Uuid::new_v4());
            rows.contacts.push(contact);
            rows.types.push("crm.transaction".to_owned());
            rows.timestamps.push(at);
            rows.attributes.push(json_text(&raw["attributes"]));
            rows.raws.push(json_text(&raw));
            rows.request_ids.push(dedup::request_id(&key));
            rows.keys.push(key.to_vec());
            rows.lanes.push("realtime".to_owned());
            rows.states.push("pending".to_owned());
            rows.reasons.push(None);
        }
        rows
    }
}

fn json_text(v: &serde_json::Value) -> Json<Box<RawValue>> {
    Json(serde_json::value::to_raw_value(v).expect("a JSON value serializes"))
}

/// Inserts the equivalent rows straight into `baseline.*` over `concurrency` connections.
pub(super) async fn baseline(pool: &PgPool, shape: &Shape, tag: &str) -> anyhow::Result<Duration> {
    let at = Utc::now() - chrono::Duration::minutes(1);
    let batches: Vec<Rows> = (0..shape.batches)
        .map(|b| Rows::new(shape, tag, b, at))
        .collect();
    timed_in_parallel(batches.len(), shape.concurrency, |n| {
        insert(pool, &batches[n])
    })
    .await
}

async fn insert(pool: &PgPool, rows: &Rows) -> anyhow::Result<()> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO baseline.dedup_keys (dedup_key, first_seen, event_id)
         SELECT k, $3, id FROM UNNEST($1::bytea[], $2::uuid[]) AS t(k, id)",
    )
    .bind(&rows.keys)
    .bind(&rows.ids)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    // The statement of `ingest::store::insert_events`, on the baseline table.
    sqlx::query(
        "INSERT INTO baseline.events (id, source, contact_id, event_type, event_timestamp, attributes, raw,
                                      request_id, dedup_key, mapping_version, manifest_version, received_at,
                                      lane, state, route_reason)
         SELECT id, $2, contact_id, event_type, ts, attrs, raw, rid, key, $10, $11, $12, lane, state, reason
         FROM UNNEST($1::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::jsonb[],
                     $8::uuid[], $9::bytea[], $13::text[], $14::text[], $15::text[])
              WITH ORDINALITY AS t(id, contact_id, event_type, ts, attrs, raw, rid, key, lane, state, reason, ord)
         ORDER BY ord",
    )
    .bind(&rows.ids)
    .bind(SOURCE)
    .bind(&rows.contacts)
    .bind(&rows.types)
    .bind(&rows.timestamps)
    .bind(&rows.attributes)
    .bind(&rows.raws)
    .bind(&rows.request_ids)
    .bind(&rows.keys)
    .bind(1_i32)
    .bind(1_i32)
    .bind(now)
    .bind(&rows.lanes)
    .bind(&rows.states)
    .bind(&rows.reasons)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

//! Dry runs of a mapping or a manifest (issue 11 §1): the stored raw payloads of a recent period and
//! the open quarantine, each planned with the candidate registry and with the active one, by the
//! very functions ingestion and quarantine replay call ([`plan::plan`], [`cdc::plan_change`],
//! [`cdc::replan`]), and compared ([`compare`]). Nothing is stored, activated or re-queued: the
//! plans are dropped once counted.
//!
//! A stored event is planned as of the instant it was received (what the candidate would have made
//! of that traffic, lanes included); an open quarantine item as of now (what a replay after the
//! change would do).

pub mod compare;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::body::Item as BodyItem;
use super::cdc;
use super::plan::{self, Documents, Intake};
use crate::domain::thresholds::Thresholds;
use crate::normalize::{Manifest, Mapping, QuarantineReason};
use crate::registry;
use compare::{Fate, Item, Origin, Tally};

/// Rows per page.
pub const PAGE: i64 = 1_000;

/// What is being tried.
#[derive(Debug, Clone)]
pub enum Candidate {
    /// A manifest version, with every source's mapping in force.
    Manifest(Manifest),
    /// A mapping for one source (only that source's payloads are run), with the active manifest.
    Mapping { source: String, mapping: Mapping },
}

impl Candidate {
    fn source(&self) -> Option<&str> {
        match self {
            Candidate::Manifest(_) => None,
            Candidate::Mapping { source, .. } => Some(source),
        }
    }
}

/// Everything planning needs, shared with the blocking threads that plan.
struct Registries {
    candidate: Candidate,
    manifest: Manifest,
    thresholds: Thresholds,
    /// Each source's mapping in force.
    mappings: HashMap<String, Mapping>,
}

impl Registries {
    /// The registries in force, and `candidate`.
    async fn load(pool: &sqlx::PgPool, candidate: Candidate) -> anyhow::Result<Self> {
        let (_, manifest) = registry::manifests::active(pool).await?;
        let (_, thresholds) = registry::thresholds::current(pool).await?;
        let mappings = registry::sources::list(pool)
            .await?
            .into_iter()
            .map(|s| (s.name, s.mapping))
            .collect();
        Ok(Self {
            candidate,
            manifest,
            thresholds,
            mappings,
        })
    }

    /// Both sides' fates of one payload; `None` when its source no longer exists.
    fn fates(
        &self,
        source: &str,
        plan_one: impl Fn(&Documents<'_>) -> (Fate, Option<String>),
    ) -> Option<(Fate, (Fate, Option<String>))> {
        let mapping = self.mappings.get(source)?;
        let reg = |mapping, manifest| Documents {
            source,
            mapping,
            manifest,
            thresholds: &self.thresholds,
        };
        let active = plan_one(&reg(mapping, &self.manifest)).0;
        let candidate = match &self.candidate {
            Candidate::Manifest(m) => plan_one(&reg(mapping, m)),
            Candidate::Mapping { mapping: m, .. } => plan_one(&reg(m, &self.manifest)),
        };
        Some((active, candidate))
    }
}

/// The dry run's result: the tally, and the payloads whose source is gone (not planned).
#[derive(Debug, Default)]
pub struct Checked {
    pub tally: Tally,
    pub without_source: u64,
}

/// Runs the events received since `since` and the open quarantine through both registries.
pub async fn check(
    pool: &sqlx::PgPool,
    candidate: Candidate,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Checked> {
    let source = candidate.source().map(str::to_owned);
    let regs = Arc::new(Registries::load(pool, candidate).await?);
    let out = check_events(pool, &regs, source.as_deref(), since).await?;
    check_quarantine(pool, &regs, source.as_deref(), now, out).await
}

/// The events received since `since` (only `source`'s, when given), page by page, each planned as
/// of the instant it was received.
async fn check_events(
    pool: &sqlx::PgPool,
    regs: &Arc<Registries>,
    source: Option<&str>,
    since: DateTime<Utc>,
) -> anyhow::Result<Checked> {
    let mut out = Checked::default();
    let mut after = (since, -1);
    loop {
        let page = store::events_page(pool, after, source, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = (last.received_at, last.seq);
        let regs = Arc::clone(regs);
        out = tokio::task::spawn_blocking(move || {
            for e in &page {
                let item = Item {
                    origin: Origin::Event,
                    id: e.id,
                    source: &e.source,
                    received_at: e.received_at,
                    raw: &e.raw,
                };
                let intake = intake_of(&e.raw);
                let fates = regs.fates(&e.source, |reg| {
                    plan_stored(e.raw.clone(), intake, None, reg, e.received_at)
                });
                out.add(&item, fates);
            }
            out
        })
        .await?;
    }
    Ok(out)
}

/// The open quarantine (only `source`'s, when given), page by page, each item planned as of `now`
/// as a replay would, added to `out`.
async fn check_quarantine(
    pool: &sqlx::PgPool,
    regs: &Arc<Registries>,
    source: Option<&str>,
    now: DateTime<Utc>,
    mut out: Checked,
) -> anyhow::Result<Checked> {
    let mut after = 0;
    loop {
        let page = super::quarantine::open_with_intake(pool, after, source, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let regs = Arc::clone(regs);
        out = tokio::task::spawn_blocking(move || {
            for q in &page {
                let item = Item {
                    origin: Origin::Quarantine,
                    id: q.id,
                    source: &q.source,
                    received_at: q.received_at,
                    raw: &q.raw,
                };
                let intake = if q.intake == Intake::Cdc.as_str() {
                    Intake::Cdc
                } else {
                    Intake::Events
                };
                let reason = q
                    .reason
                    .parse()
                    .unwrap_or(QuarantineReason::InvalidEnvelope);
                let fates = regs.fates(&q.source, |reg| {
                    plan_stored(q.raw.clone(), intake, Some(reason), reg, now)
                });
                out.add(&item, fates);
            }
            out
        })
        .await?;
    }
    Ok(out)
}

impl Checked {
    fn add(&mut self, item: &Item<'_>, fates: Option<(Fate, (Fate, Option<String>))>) {
        match fates {
            Some((active, (candidate, detail))) => {
                self.tally.add(item, active, (candidate, detail.as_deref()));
            }
            None => self.without_source += 1,
        }
    }
}

/// Plans a stored payload as the path it came through would: an event envelope like
/// `POST …/events`, a change like `POST …/cdc`; a quarantined one (with its `reason`) as replay
/// reads it back.
fn plan_stored(
    raw: serde_json::Value,
    intake: Intake,
    quarantined: Option<QuarantineReason>,
    reg: &Documents<'_>,
    at: DateTime<Utc>,
) -> (Fate, Option<String>) {
    let (fate, detail) = match (intake, quarantined) {
        (Intake::Cdc, Some(reason)) => {
            let p = cdc::replan(raw, reason, reg, at);
            owned(Fate::of_change(&p))
        }
        (Intake::Cdc, None) => owned(Fate::of_change(&cdc::plan_change(
            BodyItem::Json(raw),
            reg,
            at,
        ))),
        (Intake::Events, Some(reason)) => owned(Fate::of_planned(&plan::plan(
            &plan::item_from_raw(raw, reason),
            reg,
            at,
        ))),
        (Intake::Events, None) => {
            owned(Fate::of_planned(&plan::plan(&BodyItem::Json(raw), reg, at)))
        }
    };
    (fate, detail)
}

fn owned((fate, detail): (Fate, Option<&str>)) -> (Fate, Option<String>) {
    (fate, detail.map(str::to_owned))
}

/// Which endpoint a stored event came through. Events keep no record of it: a stored event's raw
/// payload is the envelope (`POST …/events`) or the Debezium change it was translated from
/// (`POST …/cdc`), and only the latter reads as a change.
pub fn intake_of(raw: &serde_json::Value) -> Intake {
    match crate::cdc::change::parse(raw) {
        Ok(crate::cdc::change::Parsed::Change(_)) => Intake::Cdc,
        _ => Intake::Events,
    }
}

#[cfg(test)]
mod tests;

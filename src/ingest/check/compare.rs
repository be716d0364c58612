//! The mapping/manifest dry run's arithmetic, pure: each stored payload's fate under the active
//! registry and under the candidate, tallied side by side, with the failures the candidate adds
//! grouped by reason and attribute, a few examples of each.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ingest::cdc::ChangePlan;
use crate::ingest::plan::Planned;
use crate::normalize::{QuarantineReason, Route};

/// Examples kept per new failure.
pub const EXAMPLES: usize = 20;
/// Kinds of new failure (reason and attribute) listed; more are only counted.
pub const MAX_FAILURE_KINDS: usize = 100;

/// What one payload comes to under one registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Fate {
    /// Normalized; `lane` is `realtime`, `backfill` or `reconciliation` (SPEC §3 time rules).
    Accepted {
        lane: &'static str,
    },
    Quarantined {
        reason: QuarantineReason,
    },
    /// A change the CDC mapping deliberately ignores (a tombstone, an ignored delete).
    Skipped,
}

impl Fate {
    pub fn of_planned(p: &Planned) -> (Fate, Option<&str>) {
        match p {
            Planned::Event(e) => (
                Fate::Accepted {
                    lane: lane_name(e.route()),
                },
                None,
            ),
            Planned::Quarantine { reason, detail, .. } => {
                (Fate::Quarantined { reason: *reason }, Some(detail.as_str()))
            }
        }
    }

    pub fn of_change(c: &ChangePlan) -> (Fate, Option<&str>) {
        match c {
            ChangePlan::Skipped(_) => (Fate::Skipped, None),
            ChangePlan::Planned(p) => Self::of_planned(p),
        }
    }
}

fn lane_name(route: Route) -> &'static str {
    match route {
        Route::Realtime => "realtime",
        Route::Backfill => "backfill",
        Route::Reconciliation => "reconciliation",
    }
}

/// The attribute a rejection's detail names (`attributes.<name>…`), as the manifest calls it.
pub fn attribute_of(detail: &str) -> Option<&str> {
    let rest = detail.strip_prefix("attributes.")?;
    let end = rest.find([' ', ',', ';']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

/// Counts by outcome on one side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    /// Per lane.
    pub accepted: BTreeMap<String, u64>,
    /// Per quarantine reason.
    pub quarantined: BTreeMap<String, u64>,
    pub skipped: u64,
}

impl Counts {
    fn add(&mut self, fate: Fate) {
        match fate {
            Fate::Accepted { lane } => *self.accepted.entry(lane.to_owned()).or_default() += 1,
            Fate::Quarantined { reason } => {
                *self
                    .quarantined
                    .entry(reason.as_str().to_owned())
                    .or_default() += 1;
            }
            Fate::Skipped => self.skipped += 1,
        }
    }
}

/// One origin's payloads (the stored events, or the open quarantine) on both sides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SideBySide {
    pub items: u64,
    pub active: Counts,
    pub candidate: Counts,
    /// Items whose fate differs.
    pub changed: u64,
    /// Items the candidate quarantines for another reason than the active registry does, or at
    /// all where it accepts them.
    pub newly_failing: u64,
    /// Items the active registry quarantines and the candidate accepts.
    pub newly_passing: u64,
}

/// Where an example comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A stored event (`id` is the event's).
    Event,
    /// An open quarantine item (`id` is the item's).
    Quarantine,
}

/// One stored payload, as the tally sees it.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub origin: Origin,
    pub id: Uuid,
    pub source: &'a str,
    pub received_at: DateTime<Utc>,
    pub raw: &'a Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Example {
    pub origin: Origin,
    pub id: Uuid,
    pub source: String,
    pub received_at: DateTime<Utc>,
    /// Why the candidate quarantines it.
    pub detail: String,
    /// What the active registry does with it.
    pub active: Fate,
    /// The payload as stored.
    #[schema(value_type = Object)]
    pub raw: Value,
}

/// A failure the candidate adds: its reason and the attribute it names (null when the detail
/// names none, e.g. an unknown event type).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NewFailure {
    pub reason: QuarantineReason,
    pub attribute: Option<String>,
    pub count: u64,
    /// Up to 20, oldest first.
    pub examples: Vec<Example>,
}

/// The running tally of one dry run.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub events: SideBySide,
    pub quarantine: SideBySide,
    failures: BTreeMap<(QuarantineReason, Option<String>), NewFailure>,
    /// New failures of kinds beyond [`MAX_FAILURE_KINDS`].
    pub untracked_failures: u64,
}

impl Tally {
    /// Adds one payload's fate on both sides; `detail` is the candidate's rejection, if any.
    pub fn add(&mut self, item: &Item<'_>, active: Fate, candidate: (Fate, Option<&str>)) {
        let (fate, detail) = candidate;
        let side = match item.origin {
            Origin::Event => &mut self.events,
            Origin::Quarantine => &mut self.quarantine,
        };
        side.items += 1;
        side.active.add(active);
        side.candidate.add(fate);
        if fate != active {
            side.changed += 1;
        }
        match (active, fate) {
            (Fate::Quarantined { .. }, Fate::Accepted { .. } | Fate::Skipped) => {
                side.newly_passing += 1;
            }
            (a, Fate::Quarantined { reason }) if a != fate => {
                side.newly_failing += 1;
                self.new_failure(item, active, reason, detail.unwrap_or_default());
            }
            _ => {}
        }
    }

    fn new_failure(
        &mut self,
        item: &Item<'_>,
        active: Fate,
        reason: QuarantineReason,
        detail: &str,
    ) {
        let key = (reason, attribute_of(detail).map(str::to_owned));
        if !self.failures.contains_key(&key) && self.failures.len() >= MAX_FAILURE_KINDS {
            self.untracked_failures += 1;
            return;
        }
        let failure = self.failures.entry(key).or_insert_with_key(|k| NewFailure {
            reason,
            attribute: k.1.clone(),
            count: 0,
            examples: Vec::new(),
        });
        failure.count += 1;
        if failure.examples.len() < EXAMPLES {
            failure.examples.push(Example {
                origin: item.origin,
                id: item.id,
                source: item.source.to_owned(),
                received_at: item.received_at,
                detail: detail.to_owned(),
                active,
                raw: item.raw.clone(),
            });
        }
    }

    /// The new failures, most frequent first.
    pub fn new_failures(&self) -> Vec<NewFailure> {
        let mut out: Vec<NewFailure> = self.failures.values().cloned().collect();
        out.sort_by_key(|f| std::cmp::Reverse(f.count));
        out
    }

    /// The attributes that newly fail, by name.
    pub fn failing_attributes(&self) -> Vec<String> {
        let mut names: Vec<String> = self.failures.keys().filter_map(|k| k.1.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
}

//! The population dry run's arithmetic (issue 11 §1), pure: one contact's plan under what is active
//! and under the candidate, tallied into counts by reason and tier on each side, the contacts whose
//! outcome changes, and a sample of them. No loading, no deciding: [`super::population`] hands in
//! the plans the scheduled run's own [`super::plan()`] made.

use std::collections::BTreeMap;

use super::figures::{CampaignComparison, CampaignReason, ChangedContact, Delta, Figures, Outcome};
use super::plan::ContactPlan;
use crate::eligibility::{Campaign, Reason, Tier};

/// At most this many changed contacts are shown.
pub const SAMPLE: usize = 20;

/// Slots for counts indexed by a fieldless enum (`Reason` has 10 variants).
const SLOTS: usize = 16;

/// Counts by reason on both sides, with the reason each slot stands for.
#[derive(Debug, Clone, Default, PartialEq)]
struct ReasonCounts {
    seen: [Option<Reason>; SLOTS],
    counts: [[u64; SLOTS]; 2],
}

impl ReasonCounts {
    fn add(&mut self, side: usize, reason: Reason) {
        let i = reason as usize;
        self.seen[i] = Some(reason);
        self.counts[side][i] += 1;
    }

    fn merge(&mut self, other: &Self) {
        for i in 0..SLOTS {
            self.seen[i] = self.seen[i].or(other.seen[i]);
            for side in 0..2 {
                self.counts[side][i] += other.counts[side][i];
            }
        }
    }

    fn render(&self) -> BTreeMap<String, Delta> {
        self.seen
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| (i, r)))
            .map(|(i, r)| {
                (
                    r.as_str().to_owned(),
                    Delta::of(self.counts[0][i], self.counts[1][i]),
                )
            })
            .collect()
    }
}

/// The campaigns of both sides, in one list: which index each side's campaign has in it.
#[derive(Debug, Clone)]
pub struct Sides {
    /// Every campaign id of either side, active ones first, in their run order.
    pub ids: Vec<String>,
    active: Vec<usize>,
    candidate: Vec<usize>,
    in_active: Vec<bool>,
    in_candidate: Vec<bool>,
}

impl Sides {
    pub fn new(active: &[Campaign], candidate: &[Campaign]) -> Self {
        let mut ids: Vec<String> = Vec::new();
        let index = |id: &str, ids: &mut Vec<String>| match ids.iter().position(|x| x == id) {
            Some(i) => i,
            None => {
                ids.push(id.to_owned());
                ids.len() - 1
            }
        };
        let a: Vec<usize> = active.iter().map(|c| index(&c.id, &mut ids)).collect();
        let c: Vec<usize> = candidate.iter().map(|c| index(&c.id, &mut ids)).collect();
        let mark = |of: &[usize]| {
            let mut v = vec![false; ids.len()];
            for &i in of {
                v[i] = true;
            }
            v
        };
        Self {
            in_active: mark(&a),
            in_candidate: mark(&c),
            active: a,
            candidate: c,
            ids,
        }
    }

    fn of(&self, side: usize) -> &[usize] {
        if side == 0 {
            &self.active
        } else {
            &self.candidate
        }
    }
}

/// One contact's plans on both sides and its tier on each (the tier depends on the thresholds
/// only, so a side without campaigns still has one).
pub struct Planned<'a> {
    pub contact_id: &'a str,
    pub plans: [&'a ContactPlan; 2],
    pub tiers: [Option<Tier>; 2],
}

/// The running tally of a population dry run; tallies of disjoint batches merge.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub contacts: u64,
    pub changed: u64,
    reasons: ReasonCounts,
    /// `[high, moderate, low, none]` per side.
    tiers: [[u64; 4]; 2],
    /// Per campaign of [`Sides::ids`].
    campaigns: Vec<ReasonCounts>,
    /// The changed contacts with the smallest ids (so the sample does not depend on batch order).
    sample: Vec<ChangedContact>,
}

fn tier_slot(t: Option<Tier>) -> usize {
    match t {
        Some(Tier::High) => 0,
        Some(Tier::Moderate) => 1,
        Some(Tier::Low) => 2,
        None => 3,
    }
}

impl Tally {
    /// Adds one contact.
    pub fn add(&mut self, sides: &Sides, p: &Planned<'_>) {
        if self.campaigns.len() < sides.ids.len() {
            self.campaigns
                .resize(sides.ids.len(), ReasonCounts::default());
        }
        self.contacts += 1;
        // Reason per union campaign on each side (`None`: not a campaign of that side).
        let mut reasons: [Vec<Option<Reason>>; 2] =
            [vec![None; sides.ids.len()], vec![None; sides.ids.len()]];
        let mut winners: [Option<usize>; 2] = [None, None];
        for side in 0..2 {
            let plan = p.plans[side];
            for (k, e) in plan.evaluations.iter().enumerate() {
                let slot = sides.of(side)[k];
                reasons[side][slot] = Some(e.reason);
                self.reasons.add(side, e.reason);
                self.campaigns[slot].add(side, e.reason);
            }
            winners[side] = plan.winner.map(|k| sides.of(side)[k]);
            self.tiers[side][tier_slot(p.tiers[side])] += 1;
        }
        if changes(sides, &reasons, winners) {
            self.changed += 1;
            self.sample_changed(sides, p, &reasons, winners);
        }
    }

    fn sample_changed(
        &mut self,
        sides: &Sides,
        p: &Planned<'_>,
        reasons: &[Vec<Option<Reason>>; 2],
        winners: [Option<usize>; 2],
    ) {
        let full = self.sample.len() >= SAMPLE;
        if full
            && self
                .sample
                .last()
                .is_some_and(|s| s.contact_id.as_str() < p.contact_id)
        {
            return;
        }
        let outcome = |side: usize| Outcome {
            taken_by: winners[side].map(|i| sides.ids[i].clone()),
            tier: p.tiers[side],
            decisions: sides
                .of(side)
                .iter()
                .filter_map(|&i| {
                    reasons[side][i].map(|reason| CampaignReason {
                        campaign_id: sides.ids[i].clone(),
                        reason,
                    })
                })
                .collect(),
        };
        self.insert_sample(ChangedContact {
            contact_id: p.contact_id.to_owned(),
            active: outcome(0),
            candidate: outcome(1),
        });
    }

    fn insert_sample(&mut self, c: ChangedContact) {
        let at = self
            .sample
            .partition_point(|s| s.contact_id.as_str() < c.contact_id.as_str());
        self.sample.insert(at, c);
        self.sample.truncate(SAMPLE);
    }

    /// Adds a tally of other contacts.
    pub fn merge(&mut self, other: Tally) {
        self.contacts += other.contacts;
        self.changed += other.changed;
        self.reasons.merge(&other.reasons);
        for side in 0..2 {
            for i in 0..4 {
                self.tiers[side][i] += other.tiers[side][i];
            }
        }
        if self.campaigns.len() < other.campaigns.len() {
            self.campaigns
                .resize(other.campaigns.len(), ReasonCounts::default());
        }
        for (mine, theirs) in self.campaigns.iter_mut().zip(&other.campaigns) {
            mine.merge(theirs);
        }
        for c in other.sample {
            self.insert_sample(c);
        }
    }

    /// The answer's figures.
    pub fn render(&self, sides: &Sides) -> Figures {
        let tiers = ["high", "moderate", "low", "none"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    (*name).to_owned(),
                    Delta::of(self.tiers[0][i], self.tiers[1][i]),
                )
            })
            .collect();
        let empty = ReasonCounts::default();
        let campaigns = sides
            .ids
            .iter()
            .enumerate()
            .map(|(i, id)| CampaignComparison {
                campaign_id: id.clone(),
                in_active: sides.in_active[i],
                in_candidate: sides.in_candidate[i],
                reasons: self.campaigns.get(i).unwrap_or(&empty).render(),
            })
            .collect();
        Figures {
            contacts: self.contacts,
            changed: self.changed,
            reasons: self.reasons.render(),
            tiers,
            campaigns,
            sample: self.sample.clone(),
        }
    }
}

/// Whether a contact's outcome differs: the campaign that takes it changes (none ↔ one, or
/// another), or its reason changes for a campaign both sides run. A campaign only one side runs
/// counts through whom it takes: adding one that takes 1,240 contacts changes 1,240 contacts, not
/// every contact it looked at.
fn changes(sides: &Sides, reasons: &[Vec<Option<Reason>>; 2], winners: [Option<usize>; 2]) -> bool {
    winners[0] != winners[1]
        || (0..sides.ids.len())
            .any(|i| sides.in_active[i] && sides.in_candidate[i] && reasons[0][i] != reasons[1][i])
}

#[cfg(test)]
#[path = "compare_tests.rs"]
mod tests;

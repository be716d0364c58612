//! The population dry run (issue 11 §1, `POST /v1/admin/evaluate/population`): every scored contact
//! decided at one instant under what is active and under a candidate (other thresholds, other
//! campaigns), compared, and nothing written.
//!
//! It is the scheduled run's full pass without the store: the same batched loading
//! ([`super::load::candidates`], `full`), the same pure [`plan()`] per contact (which calls
//! [`crate::eligibility::evaluate`] and `assign`), then [`compare`](super::compare) instead of a
//! write. Batches load while earlier ones are decided, on as many blocking threads as the machine
//! has cores; memory stays at a few batches whatever the number of contacts.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::task::JoinSet;

use super::compare::{Planned, Sides, Tally};
use super::load::{Batches, Candidate};
use super::plan::plan;
use super::run::BATCH;
use crate::domain::thresholds::Thresholds;
use crate::eligibility::{
    Campaign, ContactFacts, Moment, ScoreSeries, Sentences, Tier, campaign_order,
};

/// One side of the comparison: the campaigns that run (enabled, in run order) and the thresholds.
#[derive(Debug, Clone)]
pub struct Side {
    pub campaigns: Vec<Campaign>,
    pub thresholds: Thresholds,
}

impl Side {
    /// The candidate side: `active` with `thresholds` instead of its own (when given) and each of
    /// `campaigns` in place of the stored one with its id, or added when none has it. A candidate
    /// campaign that is not enabled takes its id out of the run, as disabling it would. Pure.
    pub fn candidate(
        active: &Side,
        thresholds: Option<Thresholds>,
        campaigns: &[Campaign],
    ) -> Side {
        let mut run: Vec<Campaign> = active
            .campaigns
            .iter()
            .filter(|c| !campaigns.iter().any(|n| n.id == c.id))
            .cloned()
            .collect();
        run.extend(campaigns.iter().filter(|c| c.enabled).cloned());
        run.sort_by(campaign_order);
        Side {
            campaigns: run,
            thresholds: thresholds.unwrap_or_else(|| active.thresholds.clone()),
        }
    }
}

/// What the run found: the campaigns of both sides and the tally.
pub struct Population {
    pub sides: Sides,
    pub tally: Tally,
}

/// Decides every scored contact at `at` on both sides and tallies the differences. Reads only.
pub async fn compare_population(
    pool: &PgPool,
    active: Side,
    candidate: Side,
    at: DateTime<Utc>,
) -> anyhow::Result<Population> {
    let sides = Arc::new(Sides::new(&active.campaigns, &candidate.campaigns));
    let rules = Arc::new([active, candidate]);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut deciding: JoinSet<Tally> = JoinSet::new();
    let mut tally = Tally::default();
    // Every scored contact (as a full pass reads them); the next batch loads while this one waits
    // for a thread and is decided.
    let mut batches = Batches::start(pool, at, BATCH, true);
    while let Some(batch) = batches.next().await? {
        while deciding.len() >= workers {
            if let Some(done) = deciding.join_next().await {
                tally.merge(done.context("deciding task")?);
            }
        }
        let (rules, sides) = (Arc::clone(&rules), Arc::clone(&sides));
        deciding.spawn_blocking(move || decide(&batch, &rules, &sides, at));
    }
    while let Some(done) = deciding.join_next().await {
        tally.merge(done.context("deciding task")?);
    }
    let sides = Arc::try_unwrap(sides).unwrap_or_else(|shared| (*shared).clone());
    Ok(Population { sides, tally })
}

/// Decides one batch on both sides (pure) and tallies it.
pub fn decide(batch: &[Candidate], rules: &[Side; 2], sides: &Sides, at: DateTime<Utc>) -> Tally {
    let mut tally = Tally::default();
    let moment = Moment::at(at);
    for c in batch {
        let plans = [0, 1].map(|i| {
            let side = &rules[i];
            plan(
                &c.facts,
                c.pending.as_ref(),
                &side.campaigns,
                &side.thresholds,
                &moment,
                // The dry run counts reasons; it shows no sentence.
                Sentences::FailuresOnly,
            )
        });
        let tiers = [0, 1].map(|i| match plans[i].evaluations.first() {
            Some(e) => e.tier,
            None => tier_of(&c.facts, &rules[i].thresholds, at),
        });
        tally.add(
            sides,
            &Planned {
                contact_id: &c.contact_id,
                plans: [&plans[0], &plans[1]],
                tiers,
            },
        );
    }
    tally
}

/// A contact's tier on a side that runs no campaign: what `evaluate` would compute first.
fn tier_of(facts: &ContactFacts, thresholds: &Thresholds, at: DateTime<Utc>) -> Option<Tier> {
    ScoreSeries::compute(&facts.observations, at, thresholds)
        .effective()
        .map(|s| Tier::of(s, thresholds))
}

//! A batch's decisions, one row per contact and run (`decision_runs`, migration
//! `20261208000003`): every campaign's outcome side by side in arrays, written with binary COPY.
//! Readers see per-campaign decisions through the `decisions` view (SPEC §11.16); the one that
//! reads them by time (the console's chart) is here too, beside the layout it depends on.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::eligibility::{Evaluation, Reason, Tier};
use crate::platform::db::copy::BinaryCopy;

const COPY_RUNS: &str = "COPY decision_runs (contact_id, evaluated_at, tier, effective_score, rise, \
     campaign_ids, reasons, channels, windows_open, next_openings, cooldowns_until, taken_by, \
     outcomes) FROM STDIN (FORMAT binary)";

/// One campaign's part of a contact's run.
#[derive(Debug)]
struct CampaignPart {
    reason: Reason,
    channel: Option<String>,
    open: Option<bool>,
    next: Option<DateTime<Utc>>,
    cooldown: Option<DateTime<Utc>>,
    taken_by: Option<String>,
    outcomes: String,
}

/// One contact's run.
#[derive(Debug)]
struct Run {
    contact_id: String,
    tier: Option<Tier>,
    score: Option<f64>,
    rise: Option<f64>,
    /// In the order of [`DecisionRuns::campaign_ids`].
    parts: Vec<CampaignPart>,
}

/// The decision rows of one batch.
#[derive(Debug, Default)]
pub struct DecisionRuns {
    /// The campaigns every run of the batch evaluated, in order.
    campaign_ids: Vec<String>,
    runs: Vec<Run>,
}

impl DecisionRuns {
    /// Per-campaign decisions held (contacts × campaigns).
    pub fn decisions(&self) -> usize {
        self.runs.len() * self.campaign_ids.len()
    }

    /// Adds a contact's evaluations, one per campaign of `campaign_ids` in that order. The score, the
    /// rise and the tier are the contact's (the same in every evaluation): stored once.
    pub fn push(&mut self, campaign_ids: &[&str], contact_id: &str, evaluations: &[Evaluation]) {
        if self.campaign_ids.is_empty() {
            self.campaign_ids = campaign_ids.iter().map(|c| (*c).to_owned()).collect();
        }
        debug_assert_eq!(self.campaign_ids, campaign_ids);
        let first = evaluations.first();
        self.runs.push(Run {
            contact_id: contact_id.to_owned(),
            tier: first.and_then(|e| e.tier),
            score: first.and_then(|e| e.effective_score),
            rise: first.and_then(|e| e.rise),
            parts: evaluations
                .iter()
                .map(|e| CampaignPart {
                    reason: e.reason,
                    channel: e.channel.clone(),
                    open: e.window.map(|w| w.open),
                    next: e.window.and_then(|w| w.next_opening),
                    cooldown: e.cooldown_until,
                    taken_by: e.taken_by.clone(),
                    outcomes: super::outcomes::encode(&e.outcomes),
                })
                .collect(),
        });
    }

    /// About the size of the batch's COPY: a row's fixed columns and array headers, and per
    /// campaign its id, reason and outcomes (a little over, so the buffer is not grown).
    fn bytes(&self) -> usize {
        let campaigns: usize = self.campaign_ids.iter().map(|c| c.len() + 96).sum();
        self.runs
            .iter()
            .map(|r| {
                let outcomes: usize = r.parts.iter().map(|p| p.outcomes.len()).sum();
                256 + r.contact_id.len() + campaigns + outcomes
            })
            .sum::<usize>()
            + 64
    }

    /// Writes the runs of every contact but those in `skip`, at `now`.
    pub async fn write(
        &self,
        tx: &mut PgConnection,
        now: DateTime<Utc>,
        skip: &HashSet<&str>,
    ) -> sqlx::Result<u64> {
        let copy = self.encode(now, skip);
        if copy.rows() == 0 {
            return Ok(0);
        }
        copy.send(tx, COPY_RUNS).await
    }

    fn encode(&self, now: DateTime<Utc>, skip: &HashSet<&str>) -> BinaryCopy {
        let mut c = BinaryCopy::with_capacity(self.bytes());
        let ids = &self.campaign_ids;
        for r in self
            .runs
            .iter()
            .filter(|r| !skip.contains(r.contact_id.as_str()))
        {
            let p = &r.parts;
            c.row(13)
                .text(&r.contact_id)
                .timestamptz(now)
                .opt_text(r.tier.map(Tier::as_str))
                .opt_f64(r.score)
                .opt_f64(r.rise)
                .text_array(ids.iter().map(|k| Some(k.as_str())))
                .text_array(p.iter().map(|x| Some(x.reason.as_str())))
                .text_array(p.iter().map(|x| x.channel.as_deref()))
                .bool_array(p.iter().map(|x| x.open))
                .timestamptz_array(p.iter().map(|x| x.next))
                .timestamptz_array(p.iter().map(|x| x.cooldown))
                .text_array(p.iter().map(|x| x.taken_by.as_deref()))
                .text_array(p.iter().map(|x| Some(x.outcomes.as_str())));
        }
        c
    }
}

/// Decisions per minute and reason since `since`, through the `decisions` view (one row per
/// campaign of each run) on the `decision_runs_by_age` index. The one query that reads the
/// decisions by time (the console's chart): a change of the decisions' layout adapts here.
pub async fn decisions_by_minute(
    db: impl sqlx::PgExecutor<'_>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<crate::platform::db::MinuteCount>> {
    sqlx::query_as!(
        crate::platform::db::MinuteCount,
        r#"SELECT date_trunc('minute', evaluated_at) AS "minute!", reason AS "key!",
                  count(*) AS "count!"
           FROM decisions WHERE evaluated_at >= $1 GROUP BY 1, 2"#,
        since
    )
    .fetch_all(db)
    .await
}

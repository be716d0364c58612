//! A batch's decisions, one row per contact and run (`decision_runs`, migrations `20261208000003`
//! and `20261211000016`): every campaign's outcome side by side in three texts (the campaigns and
//! their reasons space-separated, the rest a JSON array per campaign), written with binary COPY.
//! Readers see per-campaign decisions through the `decisions` view (SPEC §11.16); the one that
//! reads them by time (the console's chart) is here too, beside the layout it depends on.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use sqlx::PgConnection;

use super::outcomes::digits;
use super::stored_sentences::RiseParts;
use crate::domain::thresholds::Thresholds;
use crate::eligibility::{Campaign, Evaluation, Tier};
use crate::platform::db::copy::{EncodedRows, copy_in, copy_in_encoded};

const COPY_RUNS: &str = "COPY decision_runs (contact_id, evaluated_at, tier, effective_score, rise, \
     campaign_ids, reasons, details) FROM STDIN (FORMAT binary)";

/// The decision rows of one batch.
#[derive(Debug, Default)]
pub struct DecisionRuns {
    /// The campaigns every run of the batch evaluated, in order, space-separated (a campaign id
    /// holds no space: `domain::ids`).
    campaigns: String,
    /// The run's part of a too-small rise's stored sentence (its thresholds).
    rise: Option<RiseParts>,
    per_run: usize,
    /// One row per contact, encoded for the COPY as it is decided ([`EncodedRows`]); its first
    /// field is the contact's id ([`contact_of`]).
    rows: EncodedRows,
    /// Where the contact being pushed has its reasons and details built before they are copied
    /// into its row: two buffers for the whole batch, not two strings per contact.
    reasons: String,
    details: String,
}

impl DecisionRuns {
    /// Per-campaign decisions held (contacts × campaigns).
    pub fn decisions(&self) -> usize {
        self.rows.len() * self.per_run
    }

    /// Adds a contact's evaluations at `now`, one per campaign of `campaigns` in that order,
    /// evaluated with `thresholds` and [`Sentences::Stored`](crate::eligibility::Sentences::Stored).
    /// The score, the rise and the tier are the contact's (the same in every evaluation): stored
    /// once.
    pub fn push(
        &mut self,
        campaigns: &[Campaign],
        contact_id: &str,
        evaluations: &[Evaluation],
        thresholds: &Thresholds,
        now: DateTime<Utc>,
    ) {
        // The same campaigns for every contact of the batch: their ids are joined once.
        let ids = || campaigns.iter().map(|c| c.id.as_str()).collect::<Vec<_>>();
        if self.per_run == 0 {
            self.campaigns = ids().join(" ");
            self.per_run = campaigns.len();
        }
        let rise = self.rise.get_or_insert_with(|| RiseParts::of(thresholds));
        debug_assert_eq!(self.campaigns, ids().join(" "));
        debug_assert_eq!(evaluations.len(), campaigns.len());
        let (reasons, all) = (&mut self.reasons, &mut self.details);
        reasons.clear();
        all.clear();
        all.push('[');
        for (i, e) in evaluations.iter().enumerate() {
            if i > 0 {
                reasons.push(' ');
                all.push(',');
            }
            reasons.push_str(e.reason.as_str());
            details(all, e, rise);
        }
        all.push(']');
        let first = evaluations.first();
        self.rows.push(|c| {
            c.row(8)
                .text(contact_id)
                .timestamptz(now)
                .opt_text(first.and_then(|e| e.tier).map(Tier::as_str))
                .opt_f64(first.and_then(|e| e.effective_score))
                .opt_f64(first.and_then(|e| e.rise))
                .text(&self.campaigns)
                .text(reasons)
                .text(all);
        });
    }

    /// The rows of every contact but those in `skip`.
    fn written<'a>(&'a self, skip: &'a HashSet<&str>) -> impl Iterator<Item = &'a [u8]> {
        let rows = self.rows.rows();
        rows.filter(|r| !skip.contains(contact_of(r)))
    }

    /// Writes the rows of every contact but those in `skip`: the rows as encoded when none is
    /// skipped, as a batch nearly always is, else each kept row on its own.
    pub async fn write(&self, tx: &mut PgConnection, skip: &HashSet<&str>) -> sqlx::Result<u64> {
        if skip.is_empty() {
            return copy_in_encoded(tx, COPY_RUNS, &self.rows).await;
        }
        copy_in(tx, COPY_RUNS, self.written(skip), |c, row| {
            c.encoded(row);
        })
        .await
    }
}

/// The contact of a row [`DecisionRuns::push`] encoded: its first field, after the field count
/// (two bytes) and the field's length (four).
fn contact_of(row: &[u8]) -> &str {
    let len = row
        .get(2..6)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u32::from_be_bytes(b) as usize);
    let id = row.get(6..6 + len).unwrap_or_default();
    std::str::from_utf8(id).unwrap_or_default()
}

/// One campaign's details as the `decisions` view reads them:
/// `[channel, window_open, next_opening, cooldown_until, taken_by, outcomes]`, instants in RFC 3339
/// with microseconds (what PostgreSQL keeps), outcomes as `evaluation::outcomes` stores them.
fn details(out: &mut String, e: &Evaluation, rise: &RiseParts) {
    out.push('[');
    opt_string(out, e.channel.as_deref());
    out.push_str(match e.window.map(|w| w.open) {
        Some(true) => ",true,",
        Some(false) => ",false,",
        None => ",null,",
    });
    opt_instant(out, e.window.and_then(|w| w.next_opening));
    out.push(',');
    opt_instant(out, e.cooldown_until);
    out.push(',');
    opt_string(out, e.taken_by.as_deref());
    out.push(',');
    super::outcomes::push(out, e, rise);
    out.push(']');
}

fn opt_string(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => super::outcomes::push_json_string(out, s),
        None => out.push_str("null"),
    }
}

fn opt_instant(out: &mut String, t: Option<DateTime<Utc>>) {
    match t {
        Some(t) => push_instant(out, t),
        None => out.push_str("null"),
    }
}

/// `t` as a JSON string in RFC 3339 with microseconds, `"2026-12-08T09:00:00.000001Z"`. Written
/// by hand into a fixed pattern: a run writes about half a million (every deferral's opening), and
/// chrono's formatter, which reads its pattern each time, cost pesync 0.6 CPU-s a run. Pushed a
/// digit at a time, with each of `DateTime`'s accessors converting the instant again, they were
/// still 3.8 % of the run's instructions; written so, 2.8 %.
fn push_instant(out: &mut String, t: DateTime<Utc>) {
    if !(0..=9999).contains(&t.year()) {
        let text = t.to_rfc3339_opts(SecondsFormat::Micros, true);
        write!(out, "\"{text}\"").expect("into a String");
        return;
    }
    // Each of `DateTime`'s accessors converts the instant to local time again: once is enough.
    let (date, time) = (t.date_naive(), t.time());
    let mut text = *b"\"0000-00-00T00:00:00.000000Z\"";
    digits(&mut text[1..5], date.year() as u32);
    digits(&mut text[6..8], date.month());
    digits(&mut text[9..11], date.day());
    digits(&mut text[12..14], time.hour());
    digits(&mut text[15..17], time.minute());
    digits(&mut text[18..20], time.second());
    // A leap second's nanoseconds run past a billion; PostgreSQL has no leap seconds either.
    digits(&mut text[21..27], time.nanosecond() / 1000 % 1_000_000);
    out.push_str(std::str::from_utf8(&text).expect("ASCII"));
}

/// Decisions per minute and reason since `since`, one per campaign of each run, on the
/// `decision_runs_by_age` index. The one query that reads the decisions by time (the console's
/// chart): it splits the reasons without parsing the details, so a minute of a million-contact
/// run reads fast. A change of the decisions' layout adapts here.
pub async fn decisions_by_minute(
    db: impl sqlx::PgExecutor<'_>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<crate::platform::db::MinuteCount>> {
    sqlx::query_as!(
        crate::platform::db::MinuteCount,
        r#"SELECT date_trunc('minute', r.evaluated_at) AS "minute!", k.reason AS "key!",
                  count(*) AS "count!"
           FROM decision_runs r, unnest(string_to_array(r.reasons, ' ')) AS k(reason)
           WHERE r.evaluated_at >= $1 GROUP BY 1, 2"#,
        since
    )
    .fetch_all(db)
    .await
}

#[cfg(test)]
#[path = "runs_tests.rs"]
mod tests;

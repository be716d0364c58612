//! The families `/metrics` shows from [`Stats`], one function per group: first the cluster-wide
//! figures counted in the database, then this instance's counters stage by stage. The groups keep
//! the exposition's order as it was before they were split out (scrapers do not care; someone
//! diffing two scrapes does).

use super::{Family, family, label, single};
use crate::admin::stats::{CounterSnapshot, LaneStats, ScoringSnapshot, Stats};

/// Every family `/metrics` shows, from the same [`Stats`] as `/v1/admin/stats` (the monitors'
/// come after them: `super::monitors`).
pub(super) fn all(s: &Stats) -> Vec<Family> {
    [
        delivery_target(s),
        delivery_lanes(s),
        waiting_for_an_operator(s),
        cluster_totals(s),
        intake(&s.instance),
        delivery(&s.instance),
        scoring(&s.scoring),
        dialer(&s.scoring),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Whether events can go to Genesys: one sample labelled by the target, none without a tenant.
fn delivery_target(s: &Stats) -> Vec<Family> {
    let genesys = s.genesys.iter().map(|g| {
        let ready = if g.set_up { 1.0 } else { 0.0 };
        (label("target", &g.target), ready)
    });
    vec![family(
        "pesync_genesys_ready",
        "gauge",
        "1 while events can go to Genesys (external-events: once the org is set up), else 0.",
        genesys,
    )]
}

/// Per-lane samples of a lane figure.
fn lanes(s: &Stats, figure: impl Fn(&LaneStats) -> f64) -> [(String, f64); 2] {
    [
        (label("lane", "realtime"), figure(&s.realtime)),
        (label("lane", "backfill"), figure(&s.backfill)),
    ]
}

/// The delivery lanes, all instances: depth, oldest waiting event, delivered.
fn delivery_lanes(s: &Stats) -> Vec<Family> {
    vec![
        family(
            "pesync_lane_depth",
            "gauge",
            "Events waiting per delivery lane.",
            lanes(s, |l| l.depth as f64),
        ),
        family(
            "pesync_lane_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest waiting event per lane.",
            lanes(s, |l| l.oldest_pending_age_seconds),
        ),
        family(
            "pesync_events_delivered",
            "gauge",
            "Events delivered per lane, all instances.",
            lanes(s, |l| l.delivered as f64),
        ),
    ]
}

/// The items only an operator moves on: reconciliation, quarantine, dead letters.
fn waiting_for_an_operator(s: &Stats) -> Vec<Family> {
    vec![
        single(
            "pesync_reconciliation_depth",
            "gauge",
            "Future-dated events waiting for an operator.",
            s.reconciliation_depth as u64,
        ),
        single(
            "pesync_quarantine_open",
            "gauge",
            "Quarantined events not yet replayed or discarded.",
            s.quarantine_open as u64,
        ),
        single(
            "pesync_dead_letters_open",
            "gauge",
            "Delivery dead letters not yet replayed.",
            s.dead_letters_open as u64,
        ),
    ]
}

/// All-time totals of the whole cluster: contacts dispatched, rows pruned.
fn cluster_totals(s: &Stats) -> Vec<Family> {
    vec![
        single(
            "pesync_dispatched",
            "gauge",
            "Contacts handed to the dialer, all instances.",
            s.dispatched as u64,
        ),
        family(
            "pesync_pruned_rows_total",
            "counter",
            "Rows deleted by the retention prune, per table, all instances.",
            s.pruned
                .iter()
                .map(|p| (label("table", &p.table), p.rows as f64)),
        ),
    ]
}

/// This instance's intake counters (`ingest::metrics`).
fn intake(c: &CounterSnapshot) -> Vec<Family> {
    vec![
        single(
            "pesync_events_received_total",
            "counter",
            "Events received by this instance.",
            c.events_received,
        ),
        single(
            "pesync_deprecated_attributes_stripped_total",
            "counter",
            "Deprecated attributes stripped before delivery.",
            c.deprecated_attributes_stripped,
        ),
        single(
            "pesync_cdc_changes_skipped_total",
            "counter",
            "Change events received and not ingested (tombstones, deletes the CDC mapping ignores).",
            c.cdc_changes_skipped,
        ),
    ]
}

/// This instance's delivery counters (`delivery::metrics`, and Genesys's 429s).
fn delivery(c: &CounterSnapshot) -> Vec<Family> {
    vec![
        family(
            "pesync_delivered_total",
            "counter",
            "Events delivered by this instance.",
            [
                (label("lane", "realtime"), c.delivered_realtime as f64),
                (label("lane", "backfill"), c.delivered_backfill as f64),
            ],
        ),
        single(
            "pesync_late_arrivals_total",
            "counter",
            "Events moved from the real-time to the backfill lane.",
            c.late_arrivals,
        ),
        single(
            "pesync_dead_letters_total",
            "counter",
            "Events dead-lettered by this instance.",
            c.dead_letters,
        ),
        single(
            "pesync_genesys_429_total",
            "counter",
            "429 answers from Genesys.",
            c.responses_429,
        ),
        family(
            "pesync_delivery_retries_total",
            "counter",
            "Delivery attempts to be retried, by cause.",
            c.retries
                .iter()
                .map(|r| (label("cause", r.cause), r.count as f64)),
        ),
    ]
}

/// This instance's profile polls (`scoring::metrics`) and decisions (`evaluation::metrics`).
fn scoring(k: &ScoringSnapshot) -> Vec<Family> {
    vec![
        family(
            "pesync_profile_polls_total",
            "counter",
            "Profile polls by outcome.",
            [
                (label("outcome", "profile"), k.polls.profile as f64),
                (label("outcome", "not_found"), k.polls.not_found as f64),
                (label("outcome", "failed"), k.polls.failed as f64),
            ],
        ),
        family(
            "pesync_decisions_total",
            "counter",
            "Decisions recorded by the evaluation run, by reason.",
            k.decisions
                .iter()
                .map(|r| (label("reason", r.reason), r.count as f64)),
        ),
    ]
}

/// This instance's hand-overs to the dialer (`dialer::metrics`).
fn dialer(k: &ScoringSnapshot) -> Vec<Family> {
    vec![
        family(
            "pesync_dialer_handed_over_total",
            "counter",
            "Contacts handed to the dialer, by mode.",
            [
                (label("mode", "push"), k.handed_over.push as f64),
                (label("mode", "pull"), k.handed_over.pull as f64),
            ],
        ),
        single(
            "pesync_dialer_rejected_total",
            "counter",
            "Contacts the dialer refused for good (a 4xx).",
            k.dialer_rejected,
        ),
        single(
            "pesync_dialer_push_retries_total",
            "counter",
            "Dialer pushes that failed and wait for a retry.",
            k.dialer_push_retries,
        ),
    ]
}

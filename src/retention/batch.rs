//! What one batch of the prune is: its step, where a walk over an age index has got to, and what
//! the batch did.

use chrono::{DateTime, Utc};

use super::earliest;

/// One kind of batch. Events are pruned in three steps (delivered, dead-lettered, discarded), each
/// through its own index.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    DedupKeys,
    DeliveredEvents,
    DeadLetteredEvents,
    DiscardedEvents,
    Quarantine,
    Decisions,
    Snapshots,
    Observations,
    Handovers,
    DialerQueue,
}

impl Step {
    pub(super) const ALL: [Step; 10] = [
        Step::DedupKeys,
        Step::DeliveredEvents,
        Step::DeadLetteredEvents,
        Step::DiscardedEvents,
        Step::Quarantine,
        Step::Decisions,
        Step::Snapshots,
        Step::Observations,
        Step::Handovers,
        Step::DialerQueue,
    ];
}

/// Where a walk over an age index has got to: the last row examined, by (age, tie-breaker).
#[derive(Debug, Clone)]
pub(super) struct Cursor {
    pub(super) at: DateTime<Utc>,
    pub(super) id: i64,
    pub(super) key: String,
}

impl Cursor {
    pub(super) fn start() -> Self {
        Self {
            at: earliest(),
            id: i64::MIN,
            key: String::new(),
        }
    }
}

/// What one batch did. `examined` below the batch size means the step is done.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub(super) examined: i64,
    pub(super) deleted: i64,
    /// Dead letters deleted with their events.
    pub(super) dead_letters: i64,
    pub(super) next: Option<Cursor>,
}

impl Batch {
    /// A batch of a step that deletes every row it selects.
    pub(super) fn all(deleted: i64, dead_letters: i64) -> Self {
        Self {
            examined: deleted,
            deleted,
            dead_letters,
            next: None,
        }
    }

    pub(super) fn walked(
        examined: i64,
        deleted: i64,
        at: Option<DateTime<Utc>>,
        id: i64,
        key: String,
    ) -> Self {
        Self {
            examined,
            deleted,
            dead_letters: 0,
            next: at.map(|at| Cursor { at, id, key }),
        }
    }
}

/// What a walk keyed by (age, id) returns: rows examined and deleted, and the last one examined.
pub(super) struct Walked {
    pub(super) examined: i64,
    pub(super) deleted: i64,
    pub(super) at: Option<DateTime<Utc>>,
    pub(super) id: Option<i64>,
}

impl From<Walked> for Batch {
    fn from(w: Walked) -> Self {
        Batch::walked(
            w.examined,
            w.deleted,
            w.at,
            w.id.unwrap_or(0),
            String::new(),
        )
    }
}

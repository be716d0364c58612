//! Chronological consistency (issue 11 §2, the seed's "watch `last_event_timestamp`"): at each
//! poll, PE's `last_event_timestamp` is compared with the newest event pesync delivered for the
//! contact. PE trailing by more than the skew tolerance is a *lag* (it has not processed what we
//! sent, or lost it); PE ahead of everything we sent is an *inversion* (it saw an event we never
//! delivered, or a timestamp moved). [`classify`] is pure; [`check`] stores the contact's latest
//! state and counts it.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::monitor_store;

/// PE may keep timestamps to the millisecond: a later instant within this is the same one.
pub const INVERSION_MARGIN: TimeDelta = TimeDelta::milliseconds(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Chronology {
    /// PE's timestamp is the newest delivered one, or trails it within the skew tolerance.
    Consistent,
    /// PE's timestamp trails the newest delivered one by more than the skew tolerance.
    Lag,
    /// PE's timestamp is later than any event pesync delivered.
    Inversion,
    /// Nothing to compare: the profile has no `last_event_timestamp`, or pesync delivered nothing
    /// for the contact.
    Unknown,
}

pub const STATES: [Chronology; 4] = [
    Chronology::Consistent,
    Chronology::Lag,
    Chronology::Inversion,
    Chronology::Unknown,
];

impl Chronology {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consistent => "consistent",
            Self::Lag => "lag",
            Self::Inversion => "inversion",
            Self::Unknown => "unknown",
        }
    }
}

/// PE's `last_event_timestamp` against the newest event delivered, with `skew` tolerated behind.
pub fn classify(
    pe_last_event: Option<DateTime<Utc>>,
    newest_delivered: Option<DateTime<Utc>>,
    skew: TimeDelta,
) -> Chronology {
    let (Some(pe), Some(sent)) = (pe_last_event, newest_delivered) else {
        return Chronology::Unknown;
    };
    if pe.signed_duration_since(sent) > INVERSION_MARGIN {
        Chronology::Inversion
    } else if sent.signed_duration_since(pe) > skew {
        Chronology::Lag
    } else {
        Chronology::Consistent
    }
}

/// A contact's latest comparison, as the explanation shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChronologyView {
    pub state: Chronology,
    /// PE's `last_event_timestamp` at the last poll.
    pub pe_last_event_timestamp: Option<DateTime<Utc>>,
    /// The newest event timestamp pesync had delivered for the contact then.
    pub newest_delivered_timestamp: Option<DateTime<Utc>>,
    pub checked_at: DateTime<Utc>,
}

/// Compares a polled profile's `last_event_timestamp` with what was delivered, stores the result
/// as the contact's latest state and counts it. Runs in the poll's transaction.
pub async fn check(
    tx: &mut PgConnection,
    contact_id: &str,
    pe_last_event: Option<DateTime<Utc>>,
    skew: TimeDelta,
    now: DateTime<Utc>,
) -> sqlx::Result<Chronology> {
    let sent = monitor_store::newest_delivered(&mut *tx, contact_id).await?;
    let state = classify(pe_last_event, sent, skew);
    let view = ChronologyView {
        state,
        pe_last_event_timestamp: pe_last_event,
        newest_delivered_timestamp: sent,
        checked_at: now,
    };
    monitor_store::save_chronology(tx, contact_id, &view).await?;
    super::metrics::chronology_checked(state);
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn pe_ahead_of_everything_delivered_is_an_inversion() {
        let skew = TimeDelta::seconds(300);
        assert_eq!(
            classify(Some(at(1)), Some(at(0)), skew),
            Chronology::Inversion
        );
        let within = at(0) + TimeDelta::microseconds(999);
        assert_eq!(
            classify(Some(within), Some(at(0)), skew),
            Chronology::Consistent
        );
        let past = at(0) + TimeDelta::microseconds(1_001);
        assert_eq!(
            classify(Some(past), Some(at(0)), skew),
            Chronology::Inversion
        );
    }

    #[test]
    fn pe_behind_by_more_than_the_skew_is_a_lag() {
        let skew = TimeDelta::seconds(300);
        assert_eq!(
            classify(Some(at(0)), Some(at(0)), skew),
            Chronology::Consistent
        );
        assert_eq!(
            classify(Some(at(0)), Some(at(300)), skew),
            Chronology::Consistent
        );
        assert_eq!(classify(Some(at(0)), Some(at(301)), skew), Chronology::Lag);
        assert_eq!(
            classify(Some(at(0)), Some(at(1)), TimeDelta::zero()),
            Chronology::Lag
        );
    }

    #[test]
    fn nothing_to_compare_is_unknown() {
        let skew = TimeDelta::seconds(300);
        assert_eq!(classify(None, Some(at(0)), skew), Chronology::Unknown);
        assert_eq!(classify(Some(at(0)), None, skew), Chronology::Unknown);
        assert_eq!(classify(None, None, skew), Chronology::Unknown);
    }

    #[test]
    fn the_states_index_their_counters() {
        for (i, s) in STATES.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
    }
}

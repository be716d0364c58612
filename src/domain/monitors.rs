//! The settings of the seed's two monitors (issue 11 §2): how long a change is watched, the bounds
//! past which a watch is `suspect`, and the skew tolerated between PE's `last_event_timestamp` and
//! the newest event pesync delivered. Plain data: `app::config` reads them, the stages use them.

use chrono::TimeDelta;

#[derive(Debug, Clone, PartialEq)]
pub struct MonitorSettings {
    /// `PESYNC_CHANGE_WATCH_HOURS`: how long a mapping or manifest activation is watched.
    pub change_watch_hours: i64,
    /// `PESYNC_WATCH_MAX_DROP_SHARE`: a watch is suspect when more than this share of the compared
    /// contacts dropped by more than the dampening delta.
    pub max_drop_share: f64,
    /// `PESYNC_WATCH_MAX_PLATEAU_SHARE`: … or more than this share plateaued.
    pub max_plateau_share: f64,
    /// `PESYNC_WATCH_MIN_CONTACTS`: … once at least this many contacts were compared (a handful of
    /// contacts says nothing about a change).
    pub min_contacts: i64,
    /// `PESYNC_CHRONOLOGY_SKEW_SECONDS`: PE's `last_event_timestamp` may trail the newest delivered
    /// event by this much before the contact counts as lagging.
    pub chronology_skew_seconds: i64,
    /// `PESYNC_WATCH_CRON`: when the watch job computes the open watches' figures (6-field cron,
    /// seconds first; `off` switches it off).
    pub watch_cron: String,
}

/// Every 5 minutes: a 48-hour watch needs no fresher figures, and a large one takes a while.
pub const DEFAULT_WATCH_CRON: &str = "0 */5 * * * *";

/// A week: a longer watch would mix the change with the next ones.
pub const MAX_WATCH_HOURS: i64 = 168;

impl Default for MonitorSettings {
    fn default() -> Self {
        Self {
            change_watch_hours: 48,
            max_drop_share: 0.3,
            max_plateau_share: 0.5,
            min_contacts: 20,
            chronology_skew_seconds: 300,
            watch_cron: DEFAULT_WATCH_CRON.into(),
        }
    }
}

impl MonitorSettings {
    pub fn watch(&self) -> TimeDelta {
        TimeDelta::hours(self.change_watch_hours)
    }

    pub fn chronology_skew(&self) -> TimeDelta {
        TimeDelta::seconds(self.chronology_skew_seconds)
    }

    /// Every setting out of range, as `(variable, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=MAX_WATCH_HOURS).contains(&self.change_watch_hours) {
            out.push((
                "PESYNC_CHANGE_WATCH_HOURS",
                format!(
                    "must be 1–{MAX_WATCH_HOURS}, got {}",
                    self.change_watch_hours
                ),
            ));
        }
        for (name, share) in [
            ("PESYNC_WATCH_MAX_DROP_SHARE", self.max_drop_share),
            ("PESYNC_WATCH_MAX_PLATEAU_SHARE", self.max_plateau_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                out.push((name, format!("must be a share from 0 to 1, got {share}")));
            }
        }
        if self.min_contacts < 1 {
            out.push((
                "PESYNC_WATCH_MIN_CONTACTS",
                format!("must be at least 1, got {}", self.min_contacts),
            ));
        }
        if !(0..=86_400).contains(&self.chronology_skew_seconds) {
            out.push((
                "PESYNC_CHRONOLOGY_SKEW_SECONDS",
                format!("must be 0–86400, got {}", self.chronology_skew_seconds),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_out_of_range_values_are_named() {
        assert!(MonitorSettings::default().problems().is_empty());
        assert_eq!(MonitorSettings::default().watch(), TimeDelta::hours(48));
        let bad = MonitorSettings {
            change_watch_hours: 0,
            max_drop_share: 1.5,
            max_plateau_share: f64::NAN,
            min_contacts: 0,
            chronology_skew_seconds: -1,
            watch_cron: DEFAULT_WATCH_CRON.into(),
        };
        let names: Vec<&str> = bad.problems().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "PESYNC_CHANGE_WATCH_HOURS",
                "PESYNC_WATCH_MAX_DROP_SHARE",
                "PESYNC_WATCH_MAX_PLATEAU_SHARE",
                "PESYNC_WATCH_MIN_CONTACTS",
                "PESYNC_CHRONOLOGY_SKEW_SECONDS"
            ]
        );
    }
}

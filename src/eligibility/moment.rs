//! The instant an evaluation decides at, and the windows read at it.
//!
//! Reading a window at an instant (its zone looked up, the local time, when a closed one next
//! opens: [`ZonedWindow::state`]) depends on nothing but the window, the calling hours it is
//! intersected with, and the instant. A run decides a million contacts at one instant, and their
//! windows are a handful of distinct ones: a few openings in a few zones, and each campaign's
//! default. So a [`Moment`] keeps every read it makes and hands it out again (issue 12 §1: the
//! window reads were about 15 % of pesync's CPU in a run over a million contacts).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use chrono::{DateTime, NaiveTime, Utc};

use super::window::{CallingHours, InvalidTimeZone, Window, WindowState, ZonedWindow};

/// How many distinct reads a [`Moment`] keeps. A contact list whose windows are nearly all
/// different would otherwise grow it by one entry per contact; past this, a read is computed and
/// not kept (each entry is a few dozen bytes).
const KEPT_READS: usize = 4_096;

/// One window read at one instant: the checked window (intersected with the calling hours, if
/// any) and its state then, `None` when the zone is unknown.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct WindowRead {
    pub(super) zoned: Result<ZonedWindow, InvalidTimeZone>,
    pub(super) state: Option<WindowState>,
}

impl WindowRead {
    fn of(window: &Window, hours: Option<&CallingHours>, now: DateTime<Utc>) -> Self {
        let zoned = window.zoned().map(|z| match hours {
            Some(h) => z.within(h),
            None => z,
        });
        let state = zoned.as_ref().ok().map(|z| z.state(now));
        Self { zoned, state }
    }
}

/// A window's times and the calling hours it is read with: with the zone's name, the key of a
/// read.
type Spans = (NaiveTime, NaiveTime, Option<(NaiveTime, NaiveTime)>);

/// The instant an evaluation decides at, with the window reads made at it (see the module docs).
/// One per batch of a run, or per request of a dry run; not shared between threads.
#[derive(Debug)]
pub struct Moment {
    now: DateTime<Utc>,
    /// By zone name, then by spans: a lookup borrows the window's zone instead of copying it.
    reads: RefCell<HashMap<String, HashMap<Spans, WindowRead>>>,
    entries: Cell<usize>,
}

impl Moment {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            reads: RefCell::default(),
            entries: Cell::new(0),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// `window` (intersected with `hours`, if any) read at this instant: the same as reading it
    /// afresh, computed once per distinct window.
    pub(super) fn window(&self, window: &Window, hours: Option<&CallingHours>) -> WindowRead {
        let spans = (
            window.start_time,
            window.end_time,
            hours.map(|h| (h.start_time, h.end_time)),
        );
        let mut reads = self.reads.borrow_mut();
        if let Some(read) = reads
            .get(window.timezone.as_str())
            .and_then(|zone| zone.get(&spans))
        {
            return read.clone();
        }
        let read = WindowRead::of(window, hours, self.now);
        if self.entries.get() < KEPT_READS {
            self.entries.set(self.entries.get() + 1);
            reads
                .entry(window.timezone.clone())
                .or_default()
                .insert(spans, read.clone());
        }
        read
    }

    /// How many reads are kept.
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.reads.borrow().values().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::window::hms_text;

    fn now() -> DateTime<Utc> {
        "2026-03-08T06:30:00Z".parse().unwrap()
    }

    fn window(start: u32, end: u32, zone: &str) -> Window {
        Window {
            start_time: NaiveTime::from_hms_opt(start, 0, 0).unwrap(),
            end_time: NaiveTime::from_hms_opt(end, 30, 0).unwrap(),
            timezone: zone.into(),
        }
    }

    fn hours(start: u32, end: u32) -> CallingHours {
        CallingHours {
            start_time: NaiveTime::from_hms_opt(start, 0, 0).unwrap(),
            end_time: NaiveTime::from_hms_opt(end, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_read_is_the_fresh_read_whatever_was_read_before() {
        let moment = Moment::at(now());
        let zones = [
            "America/New_York",
            "Asia/Kathmandu",
            "Mars/Base",
            "US/Eastern",
        ];
        let hours = [None, Some(hours(8, 21)), Some(hours(22, 6))];
        // Twice over: the second pass is answered from what the first one kept.
        for _ in 0..2 {
            for zone in zones {
                for start in 0..24 {
                    let w = window(start, (start + 6) % 24, zone);
                    for h in &hours {
                        let fresh = WindowRead::of(&w, h.as_ref(), now());
                        assert_eq!(
                            moment.window(&w, h.as_ref()),
                            fresh,
                            "{}–{} {zone} with {h:?}",
                            hms_text(w.start_time),
                            hms_text(w.end_time)
                        );
                    }
                }
            }
        }
        assert_eq!(moment.kept(), zones.len() * 24 * hours.len());
    }

    #[test]
    fn the_same_times_in_another_zone_or_with_other_hours_are_another_read() {
        let moment = Moment::at(now());
        // 01:00 New York time: closed until 02:00, which that night does not exist.
        let ny = window(2, 3, "America/New_York");
        let london = window(2, 3, "Europe/London");
        let first = moment.window(&ny, None);
        assert_ne!(moment.window(&london, None), first);
        assert_ne!(moment.window(&ny, Some(&hours(8, 21))), first);
        assert_eq!(moment.window(&ny, None), first);
        assert_eq!(moment.kept(), 3);
    }

    #[test]
    fn past_the_limit_reads_are_computed_and_not_kept() {
        let moment = Moment::at(now());
        let all: Vec<Window> = (0..KEPT_READS as u32 + 50)
            .map(|i| Window {
                start_time: NaiveTime::from_num_seconds_from_midnight_opt(i, 0).unwrap(),
                end_time: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
                timezone: "Asia/Tokyo".into(),
            })
            .collect();
        for w in &all {
            assert_eq!(moment.window(w, None), WindowRead::of(w, None, now()));
        }
        assert_eq!(moment.kept(), KEPT_READS);
        let last = all.last().unwrap();
        assert_eq!(moment.window(last, None), WindowRead::of(last, None, now()));
    }
}

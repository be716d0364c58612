//! When a closed window next opens ([`ZonedWindow::next_opening`]), across daylight-saving
//! changes: the candidates are the local starts on the days around today and the zone's offset
//! transitions before the earliest of them.

use chrono::{DateTime, LocalResult, Offset, TimeDelta, TimeZone, Utc};

use super::ZonedWindow;

/// How far ahead [`ZonedWindow::next_opening`] looks, in local days after today. The opening is
/// normally within a day; a window wholly inside a spring-forward gap pushes it to the next day,
/// and a zone that skipped a whole calendar day (Pacific/Apia, 2011-12-30) one more.
const DAYS_AHEAD: u64 = 3;

impl ZonedWindow {
    /// The earliest instant after `now` at which the local wall clock is inside the window;
    /// `None` while the window is open.
    ///
    /// While the clock runs continuously, the window can only be entered when the local time
    /// reaches `start`; otherwise it is entered by a jump of the clock at a UTC-offset transition.
    /// So the candidates are (a) every instant whose local time is `start` (both of them when the
    /// local time occurs twice) on the days around today and (b) the transitions before the
    /// earliest of those; the answer is the earliest candidate at which the window is open. With
    /// calling hours the window ∩ hours is entered when the clock reaches either start while the
    /// other range holds, so both starts are candidates, each kept only where both hold. (b)
    /// gives "a local opening in the gap opens at the first instant after it", "a window wholly
    /// inside the gap does not open that day" (the clock lands past its end) and the fall-back
    /// re-entry of a window containing the repeated hour.
    ///
    /// Cost: a handful of binary searches in the zone's transition table; the bisection for a
    /// transition runs only when the offset changes before the next opening, a few days a year.
    pub fn next_opening(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(now) || self.never_opens() {
            return None;
        }
        let today = self.local(now)?.date();
        let mut best: Option<DateTime<Utc>> = None;
        let days = (0..=DAYS_AHEAD + 1).filter_map(|i| {
            // From yesterday: on a fall-back past midnight, yesterday's `start` may occur again.
            today.pred_opt()?.checked_add_days(chrono::Days::new(i))
        });
        for (day, start) in days.flat_map(|d| self.starts().map(move |s| (d, s))) {
            let (first, second) = match self.tz.from_local_datetime(&day.and_time(start)) {
                LocalResult::Single(t) => (Some(t), None),
                LocalResult::Ambiguous(a, b) => (Some(a), Some(b)),
                // In a gap: the transition candidate below covers it.
                LocalResult::None => (None, None),
            };
            for t in [first, second].into_iter().flatten() {
                let t = t.with_timezone(&Utc);
                if t > now && best.is_none_or(|b| t < b) && self.is_open(t) {
                    best = Some(t);
                }
            }
        }
        let horizon = match best {
            Some(b) => b,
            None => now.checked_add_signed(TimeDelta::days(DAYS_AHEAD as i64 + 1))?,
        };
        match self.opening_at_transition(now, horizon) {
            Some(t) if best.is_none_or(|b| t < b) => Some(t),
            _ => best,
        }
    }

    /// The first offset transition in `(now, horizon]` at which the window is open.
    ///
    /// Assumes the offset never changes and changes back within the span searched (a few days at
    /// most): a scan of every zone chrono-tz knows, 1900–2100, found no two such changes within
    /// five days of each other.
    fn opening_at_transition(
        &self,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let hi = horizon.timestamp();
        let mut lo = now.timestamp();
        let mut lo_offset = self.offset_at(lo)?;
        while lo < hi && self.offset_at(hi)? != lo_offset {
            // Bisect for the first second whose offset differs: invariant offset(a) == lo_offset,
            // offset(b) != lo_offset. Transitions fall on whole seconds.
            let (mut a, mut b) = (lo, hi);
            while b - a > 1 {
                let mid = a + (b - a) / 2;
                if self.offset_at(mid)? == lo_offset {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            let at = DateTime::from_timestamp(b, 0)?;
            if at > now && self.is_open(at) {
                return Some(at);
            }
            lo = b;
            lo_offset = self.offset_at(lo)?;
        }
        None
    }

    /// Total UTC offset in seconds at a UTC timestamp.
    fn offset_at(&self, timestamp: i64) -> Option<i32> {
        let utc = DateTime::from_timestamp(timestamp, 0)?.naive_utc();
        Some(
            self.tz
                .offset_from_utc_datetime(&utc)
                .fix()
                .local_minus_utc(),
        )
    }
}

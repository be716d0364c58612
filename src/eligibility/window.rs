//! Contact windows (SPEC §7 rule 6, §11.13–14): a daily `[start_time, end_time)` range of local
//! wall-clock time in an IANA time zone.
//!
//! Everything is computed on the *local wall clock*, so a window is right across daylight-saving
//! changes: on the spring-forward day a window may be shorter, on the fall-back day a local time
//! that occurs twice is inside the window both times.

use chrono::{DateTime, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::words::Hms;

/// When a closed window next opens: its own file, being the one part that walks the zone's
/// offset transitions.
mod opening;

/// A daily window as documents carry it (campaign default window, a contact's best contact
/// window). The zone is kept as text: an unknown zone is a decision (`invalid_timezone`), not a
/// parse error, so it must survive deserialization. [`ZonedWindow`] is the checked form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Window {
    /// Local opening time, `HH:MM:SS`.
    #[serde(with = "hms")]
    #[schema(value_type = String, example = "09:00:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")]
    pub start_time: NaiveTime,
    /// Local closing time, `HH:MM:SS`, excluded. Before `start_time`: the window runs over
    /// midnight. Equal to `start_time`: open all day.
    #[serde(with = "hms")]
    #[schema(value_type = String, example = "20:00:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")]
    pub end_time: NaiveTime,
    /// IANA time-zone name, case-sensitive (`America/New_York`, links such as `US/Eastern`).
    #[schema(example = "America/New_York")]
    pub timezone: String,
}

/// Whether a window is open at an instant and, when it is not, when it next opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WindowState {
    pub open: bool,
    /// Earliest instant after `now` at which the window is open; null while it is open.
    pub next_opening: Option<DateTime<Utc>>,
}

/// The time-zone name is not one the tz database knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?}")]
pub struct InvalidTimeZone(pub String);

/// Parses an IANA name exactly as the tz database spells it. chrono-tz's `FromStr` is a
/// case-sensitive lookup that includes the backward-compatible links, which is the SPEC's rule.
pub fn parse_time_zone(name: &str) -> Result<Tz, InvalidTimeZone> {
    name.parse::<Tz>()
        .map_err(|_| InvalidTimeZone(name.to_owned()))
}

impl Window {
    pub fn zoned(&self) -> Result<ZonedWindow, InvalidTimeZone> {
        Ok(ZonedWindow {
            start: self.start_time,
            end: self.end_time,
            tz: parse_time_zone(&self.timezone)?,
            hours: None,
        })
    }
}

/// A campaign's calling hours (issue 11 §4): a daily `[start_time, end_time)` range of local
/// wall-clock time with no zone of its own. It is read in the zone of the window the contact has
/// (its own, else the campaign's default), so "08:00–21:00" means 08:00–21:00 where the contact
/// is. Same conventions as [`Window`]: before `start_time` runs over midnight, equal is all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallingHours {
    /// Local time calls may start, `HH:MM:SS`.
    #[serde(with = "hms")]
    #[schema(value_type = String, example = "08:00:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")]
    pub start_time: NaiveTime,
    /// Local time calls must stop, `HH:MM:SS`, excluded.
    #[serde(with = "hms")]
    #[schema(value_type = String, example = "21:00:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")]
    pub end_time: NaiveTime,
}

/// Whether a local wall-clock time is inside the daily range `[start, end)` (over midnight when
/// `end < start`, all day when equal).
fn span_contains(start: NaiveTime, end: NaiveTime, local: NaiveTime) -> bool {
    if start == end {
        true
    } else if start < end {
        start <= local && local < end
    } else {
        // Over midnight: [start, 24:00) ∪ [00:00, end).
        local >= start || local < end
    }
}

/// A window whose zone is known to exist, possibly narrowed by calling hours (read in the same
/// zone). Cheap to copy; all methods are pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZonedWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub tz: Tz,
    /// Calling hours the window is intersected with: open only where both are.
    pub hours: Option<(NaiveTime, NaiveTime)>,
}

impl ZonedWindow {
    /// This window intersected with calling hours (the effective window, issue 11 §4).
    pub fn within(self, hours: &CallingHours) -> ZonedWindow {
        ZonedWindow {
            hours: Some((hours.start_time, hours.end_time)),
            ..self
        }
    }

    pub fn all_day(&self) -> bool {
        self.start == self.end && self.hours.is_none_or(|(s, e)| s == e)
    }

    /// Whether the window and the calling hours share no time of day, so the window never opens.
    /// Two daily ranges intersect exactly when one contains the other's start: the first time of
    /// day of a non-empty intersection is where one of them starts.
    pub fn never_opens(&self) -> bool {
        match self.hours {
            None => false,
            Some((s, e)) => {
                !(span_contains(self.start, self.end, s) || span_contains(s, e, self.start))
            }
        }
    }

    /// Whether a local wall-clock time is inside `[start, end)` (and inside the calling hours).
    pub fn contains(&self, local: NaiveTime) -> bool {
        span_contains(self.start, self.end, local)
            && self.hours.is_none_or(|(s, e)| span_contains(s, e, local))
    }

    /// The local times at which the window can be entered while the clock runs: its start and
    /// the calling hours' start.
    fn starts(self) -> impl Iterator<Item = NaiveTime> {
        std::iter::once(self.start).chain(self.hours.map(|(s, _)| s))
    }

    /// The daily range of the window the local time at `now` is in, `(start, end)` as local
    /// times: the window itself, or with calling hours the piece of window ∩ hours that holds
    /// `now` (an intersection may have two pieces, e.g. 20:00–10:00 ∩ 08:00–21:00). What the
    /// dialer is told, so it does not call outside the calling hours either. `None` while closed.
    pub fn open_span(&self, now: DateTime<Utc>) -> Option<(NaiveTime, NaiveTime)> {
        use chrono::Timelike;
        if !self.is_open(now) {
            return None;
        }
        const DAY: i64 = 86_400;
        let x = i64::from(self.local(now)?.time().num_seconds_from_midnight());
        let secs = |t: NaiveTime| i64::from(t.num_seconds_from_midnight());
        // The ranges that bound the day (all-day ones do not), as (start, end).
        let bounded = std::iter::once((self.start, self.end))
            .chain(self.hours)
            .filter(|(s, e)| s != e);
        // The nearest start at or before `x` and the nearest end after it, going round the clock.
        let mut back: Option<i64> = None;
        let mut ahead: Option<i64> = None;
        for (s, e) in bounded {
            let b = (x - secs(s)).rem_euclid(DAY);
            let a = (secs(e) - x).rem_euclid(DAY);
            back = Some(back.map_or(b, |v| v.min(b)));
            ahead = Some(ahead.map_or(a, |v| v.min(a)));
        }
        let at = |offset: i64| {
            NaiveTime::from_num_seconds_from_midnight_opt((x + offset).rem_euclid(DAY) as u32, 0)
        };
        match (back, ahead) {
            (Some(b), Some(a)) => Some((at(-b)?, at(a)?)),
            // Open all day.
            _ => Some((self.start, self.start)),
        }
    }

    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.all_day() || self.local(now).is_some_and(|l| self.contains(l.time()))
    }

    pub fn state(&self, now: DateTime<Utc>) -> WindowState {
        let open = self.is_open(now);
        WindowState {
            open,
            next_opening: if open { None } else { self.next_opening(now) },
        }
    }

    /// Local wall-clock time at an instant. chrono's `naive_local` panics at the edges of its
    /// range; this returns `None` there instead, so arbitrary input never panics.
    pub fn local(&self, at: DateTime<Utc>) -> Option<NaiveDateTime> {
        let utc = at.naive_utc();
        utc.checked_add_offset(self.tz.offset_from_utc_datetime(&utc).fix())
    }
}

/// Parses `HH:MM:SS` strictly (two digits each, 00–23, 00–59, 00–59): no fraction, no leap
/// second, no `24:00:00`; `09:00` is refused rather than guessed.
pub fn parse_hms(text: &str) -> Option<NaiveTime> {
    let b = text.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let two = |i: usize| -> Option<u32> {
        let (hi, lo) = (b[i], b[i + 1]);
        (hi.is_ascii_digit() && lo.is_ascii_digit())
            .then(|| u32::from(hi - b'0') * 10 + u32::from(lo - b'0'))
    };
    NaiveTime::from_hms_opt(two(0)?, two(3)?, two(6)?)
}

/// `HH:MM:SS` text of a time (sub-seconds dropped). Written by hand: chrono's `format` parses
/// its pattern on every call, which shows up when a run explains a million contacts. A sentence
/// writes [`Hms`] into itself instead.
pub fn hms_text(time: NaiveTime) -> String {
    Hms(time).to_string()
}

/// serde for `NaiveTime` as `HH:MM:SS` (chrono's own form accepts fractions and `HH:MM`).
pub(crate) mod hms {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&super::Hms(*time))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_hms(&text)
            .ok_or_else(|| D::Error::custom(format!("expected a time as HH:MM:SS, got {text:?}")))
    }
}

//! The two failures most of a run's decisions have, stored as what their sentences are made of and
//! rendered when the decision is read (`eligibility::Sentences::Stored`, issue 12): a rise too
//! small ([`RiseSentence`]) and a closed window ([`WindowSentence`]). On a million contacts they are
//! two thirds of the failures, and written out they were a fifth of the decision rows' bytes.
//!
//! Each is an element of a decision's outcomes array (`evaluation::outcomes`), at its rule's place,
//! holding what the decision's own columns do not:
//! * the rise: `[window_seconds, "min_rise"]`, the thresholds it was decided with (the minimum as
//!   text, which reads back exactly); the rise and the effective score are the decision's columns;
//! * the window: `[start, end, "zone"]`, or `[start, end, "zone", hours_start, hours_end]` with
//!   calling hours, times as seconds from midnight; closed, and the next opening, are the
//!   decision's, and the local time is that of the decision's instant in the zone.
//!
//! A row holding a sentence instead (written before, or by anything else) reads as it always did.

use chrono::{DateTime, NaiveTime, TimeDelta, Timelike, Utc};
use serde_json::Value;

use super::outcomes::{push_json_string, push_u32};
use crate::domain::thresholds::Thresholds;
use crate::eligibility::{Evaluation, RiseSentence, Window, WindowSentence, WindowState};

/// What a decision row holds besides its outcomes: what the stored sentences are rendered from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decided {
    pub evaluated_at: DateTime<Utc>,
    pub effective_score: Option<f64>,
    pub rise: Option<f64>,
    pub next_opening: Option<DateTime<Utc>>,
}

/// A batch's rise element: the same for every decision of a run (one set of thresholds).
#[derive(Debug, Clone, PartialEq)]
pub struct RiseParts {
    window: TimeDelta,
    min_rise: f64,
    /// `[window_seconds, "min_rise"]`; `None` when the minimum is not finite (the sentence is then
    /// written out).
    text: Option<String>,
}

impl RiseParts {
    pub fn of(thresholds: &Thresholds) -> Self {
        let window = thresholds.rise_window();
        let min_rise = thresholds.min_rise;
        Self {
            window,
            min_rise,
            // `{}` of an f64 is the shortest text that `str::parse` reads back as the same number;
            // as a JSON number serde_json would read it back rounded.
            text: min_rise
                .is_finite()
                .then(|| format!("[{},\"{min_rise}\"]", window.num_seconds())),
        }
    }

    /// Writes the element of a too-small rise of `e`.
    pub(super) fn push(&self, out: &mut String, e: &Evaluation) {
        match (&self.text, e.rise, e.effective_score) {
            (Some(text), Some(_), Some(_)) => out.push_str(text),
            (_, Some(rise), Some(score)) => {
                let sentence = RiseSentence {
                    rise,
                    score,
                    window: self.window,
                    min_rise: self.min_rise,
                };
                push_json_string(out, &sentence.to_string());
            }
            // Cannot happen: the rule leaves the sentence to be rendered only with both.
            _ => push_json_string(out, "the rise was not recorded"),
        }
    }
}

/// Writes the element of a closed window of `e`.
pub(super) fn push_window(out: &mut String, e: &Evaluation) {
    let Some(w) = &e.effective_window else {
        // Cannot happen: the rule leaves the sentence to be rendered only with a window.
        push_json_string(out, "the window was not recorded");
        return;
    };
    let seconds = |out: &mut String, t: NaiveTime| push_u32(out, t.num_seconds_from_midnight());
    out.push('[');
    seconds(out, w.start_time);
    out.push(',');
    seconds(out, w.end_time);
    out.push(',');
    push_json_string(out, &w.timezone);
    if let Some(h) = &e.calling_hours {
        out.push(',');
        seconds(out, h.start_time);
        out.push(',');
        seconds(out, h.end_time);
    }
    out.push(']');
}

/// The rise's sentence from its stored element; `None` when the element or the decision lacks a
/// part.
pub(super) fn rise_sentence(parts: &[Value], d: &Decided) -> Option<String> {
    let [window, min_rise] = parts else {
        return None;
    };
    Some(
        RiseSentence {
            rise: d.rise?,
            score: d.effective_score?,
            window: TimeDelta::try_seconds(window.as_i64()?)?,
            min_rise: min_rise.as_str()?.parse().ok()?,
        }
        .to_string(),
    )
}

/// The closed window's sentence from its stored element; `None` when the element lacks a part.
pub(super) fn window_sentence(parts: &[Value], d: &Decided) -> Option<String> {
    let time = |v: &Value| {
        NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(v.as_u64()?).ok()?, 0)
    };
    let (window, hours) = match parts {
        [start, end, zone] => ((start, end, zone), None),
        [start, end, zone, hours_start, hours_end] => (
            (start, end, zone),
            Some((time(hours_start)?, time(hours_end)?)),
        ),
        _ => return None,
    };
    let window = Window {
        start_time: time(window.0)?,
        end_time: time(window.1)?,
        timezone: window.2.as_str()?.to_owned(),
    };
    // A zone the tz database no longer knows cannot place the instant: the local time reads `?`.
    let local = window
        .zoned()
        .ok()
        .and_then(|z| z.local(d.evaluated_at))
        .map(|l| l.time());
    Some(
        WindowSentence {
            state: WindowState {
                open: false,
                next_opening: d.next_opening,
            },
            local,
            window: &window,
            hours,
        }
        .to_string(),
    )
}

#[cfg(test)]
#[path = "stored_sentences_tests.rs"]
mod tests;

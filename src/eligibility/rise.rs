//! The rise (SPEC §7 rule 3, §11.11): the effective score now minus the lowest effective score in
//! force at any time during the trailing window.
//!
//! The candidates for the minimum are the value in force when the window opens (an observation
//! exactly at `now − window` counts as in force then) and every applied value after it. When no
//! applied observation precedes the window, only those inside it count: the contact had no score
//! before, and "no score" is not a low score. A single applied observation is no rise at all.

use chrono::{DateTime, TimeDelta, Utc};

use super::score::Observation;

/// Rise shown to operators is rounded to this many decimal places, so 0.72 − 0.62 reads 0.1
/// rather than 0.09999999999999998. The rule compares the unrounded value (with the tolerance);
/// rounding at 1e-12 is far inside the 1e-9 tolerance and cannot change a decision.
const DISPLAY_DECIMALS: i32 = 12;

/// The rise at `now` over the trailing `window`, from the applied series (time-ordered, none
/// after `now`). `None` when fewer than two observations were applied.
///
/// Never negative: the current effective score is itself a candidate for the minimum.
pub fn rise(applied: &[Observation], now: DateTime<Utc>, window: TimeDelta) -> Option<f64> {
    if applied.len() < 2 {
        return None;
    }
    let current = applied.last()?.score;
    // A window reaching before chrono's first instant covers the whole history.
    let opens = now
        .checked_sub_signed(window)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    // Applied observations at or before the opening instant; the last of them is in force then.
    let before = applied.partition_point(|o| o.timestamp <= opens);
    let from = before.saturating_sub(1);
    let lowest = applied[from..]
        .iter()
        .map(|o| o.score)
        .fold(f64::INFINITY, f64::min);
    Some(current - lowest)
}

/// The rise as reported to operators: rounded to 12 decimal places (see `DISPLAY_DECIMALS`).
pub fn for_display(rise: f64) -> f64 {
    let scale = 10f64.powi(DISPLAY_DECIMALS);
    let rounded = (rise * scale).round() / scale;
    if rounded.is_finite() { rounded } else { rise }
}

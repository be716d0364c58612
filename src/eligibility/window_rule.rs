//! The last three rules of SPEC §7 (issue 11 adds calling hours): the window in force for a
//! contact (its own best contact window, else the campaign's default), intersected with the
//! campaign's calling hours, and the rules that read it: a valid time zone, some callable time,
//! the window open now.

use chrono::{DateTime, Utc};

use super::campaign::Campaign;
use super::reason::{Rule, RuleOutcome};
use super::rules::{ContactFacts, outcome};
use super::window::{CallingHours, InvalidTimeZone, Window, WindowState, ZonedWindow, hms_text};

/// The window the time-zone, calling-hours and window rules read: the contact's own, else the
/// campaign's default, intersected with the campaign's calling hours (read in that window's zone)
/// when it has some. Its state is computed whenever the zone is valid, whatever the earlier rules
/// decided (§11.15), so a deferred contact can be scheduled and an operator sees when it would open.
pub(super) struct WindowInForce<'a> {
    pub(super) window: &'a Window,
    source: &'static str,
    span: String,
    hours: Option<&'a CallingHours>,
    /// The effective window (window ∩ calling hours).
    zoned: Result<ZonedWindow, InvalidTimeZone>,
    /// State of the effective window.
    pub(super) state: Option<WindowState>,
    /// State of the contact's window alone.
    pub(super) own_state: Option<WindowState>,
}

impl<'a> WindowInForce<'a> {
    pub(super) fn of(facts: &'a ContactFacts, campaign: &'a Campaign, now: DateTime<Utc>) -> Self {
        let (window, source) = match &facts.best_contact_window {
            Some(w) => (w, "contact's best contact window"),
            None => (&campaign.default_window, "campaign default window"),
        };
        let span = format!(
            "{}–{} {}",
            hms_text(window.start_time),
            hms_text(window.end_time),
            window.timezone
        );
        let own = window.zoned();
        let hours = campaign.calling_hours.as_ref();
        let (zoned, state, own_state) = match hours {
            // Without calling hours the effective window is the contact's: one state, not two (a
            // run over a million contacts computes it for each).
            None => {
                let state = own.as_ref().ok().map(|z| z.state(now));
                (own, state, state)
            }
            Some(h) => {
                let own_state = own.as_ref().ok().map(|z| z.state(now));
                let zoned = own.map(|z| z.within(h));
                let state = zoned.as_ref().ok().map(|z| z.state(now));
                (zoned, state, own_state)
            }
        };
        Self {
            window,
            source,
            span,
            hours,
            zoned,
            state,
            own_state,
        }
    }

    /// The open piece of the effective window at `now`, in the window's zone.
    pub(super) fn handover_window(&self, now: DateTime<Utc>) -> Option<Window> {
        let (start_time, end_time) = self.zoned.as_ref().ok()?.open_span(now)?;
        Some(Window {
            start_time,
            end_time,
            timezone: self.window.timezone.clone(),
        })
    }

    /// Calling hours, when the campaign has some, in the window's zone.
    fn hours_span(&self) -> Option<String> {
        self.hours.map(|h| {
            format!(
                "calling hours {}–{} {}",
                hms_text(h.start_time),
                hms_text(h.end_time),
                self.window.timezone
            )
        })
    }

    /// Calling hours: the window and the campaign's calling hours share some time of day. Decided
    /// on the times alone, so it holds whatever the zone.
    pub(super) fn calling_hours_rule(&self) -> RuleOutcome {
        let Some(hours) = self.hours_span() else {
            return outcome(Rule::CallingHours, true, "no calling hours".into());
        };
        let zoned = ZonedWindow {
            start: self.window.start_time,
            end: self.window.end_time,
            tz: chrono_tz::UTC,
            hours: self.hours.map(|h| (h.start_time, h.end_time)),
        };
        if zoned.never_opens() {
            let detail = format!(
                "{} {} and {hours} have no time in common",
                self.source, self.span
            );
            outcome(Rule::CallingHours, false, detail)
        } else {
            outcome(Rule::CallingHours, true, format!("{} ∩ {hours}", self.span))
        }
    }

    /// 6. Time zone: the window in force names a valid IANA zone.
    pub(super) fn timezone_rule(&self) -> RuleOutcome {
        match &self.zoned {
            Ok(_) => outcome(
                Rule::Timezone,
                true,
                format!("{} {}", self.source, self.span),
            ),
            Err(e) => outcome(Rule::Timezone, false, format!("{}: {e}", self.source)),
        }
    }

    /// 7. Window: `now` is inside it, in the contact's local time.
    pub(super) fn window_rule(&self, now: DateTime<Utc>) -> RuleOutcome {
        let (Ok(z), Some(s)) = (&self.zoned, self.state) else {
            return outcome(Rule::Window, false, "no valid time zone".into());
        };
        let local = z
            .local(now)
            .map_or_else(|| "?".into(), |l| hms_text(l.time()));
        let span = match self.hours_span() {
            Some(hours) => format!("{} ∩ {hours}", self.span),
            None => self.span.clone(),
        };
        let detail = match s.next_opening {
            _ if s.open => format!("open: local time {local} is inside {span}"),
            Some(next) => format!("closed: local time {local} is outside {span}; opens at {next}"),
            None => format!("closed: local time {local} is outside {span}; no opening found"),
        };
        outcome(Rule::Window, s.open, detail)
    }
}

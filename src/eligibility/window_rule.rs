//! The last three rules of SPEC §7 (issue 11 adds calling hours): the window in force for a
//! contact (its own best contact window, else the campaign's default), intersected with the
//! campaign's calling hours, and the rules that read it: a valid time zone, some callable time,
//! the window open now.

use std::fmt::{self, Display};

use chrono::{DateTime, NaiveTime, Utc};

use super::campaign::Campaign;
use super::moment::{Moment, WindowRead};
use super::reason::{Rule, RuleOutcome, Sentences};
use super::rules::{ContactFacts, outcome, outcome_read_later};
use super::window::{CallingHours, InvalidTimeZone, Window, WindowState, ZonedWindow};
use super::words::{At, Hms};

/// The window the time-zone, calling-hours and window rules read: the contact's own, else the
/// campaign's default, intersected with the campaign's calling hours (read in that window's zone)
/// when it has some. Its state is computed whenever the zone is valid, whatever the earlier rules
/// decided (§11.15), so a deferred contact can be scheduled and an operator sees when it would open.
pub(super) struct WindowInForce<'a> {
    pub(super) window: &'a Window,
    source: &'static str,
    hours: Option<&'a CallingHours>,
    say: Sentences,
    /// The effective window (window ∩ calling hours).
    zoned: Result<ZonedWindow, InvalidTimeZone>,
    /// State of the effective window.
    pub(super) state: Option<WindowState>,
    /// State of the contact's window alone.
    pub(super) own_state: Option<WindowState>,
}

impl<'a> WindowInForce<'a> {
    /// The window in force for `campaign` at `moment`. `own` is the contact's own window read
    /// then (`None` when it has none), read once per contact and shared by every campaign.
    pub(super) fn of(
        facts: &'a ContactFacts,
        own: Option<&WindowRead>,
        campaign: &'a Campaign,
        moment: &Moment,
        say: Sentences,
    ) -> Self {
        let (window, source) = match &facts.best_contact_window {
            Some(w) => (w, "contact's best contact window"),
            None => (&campaign.default_window, "campaign default window"),
        };
        // Without a window of its own, the contact takes the campaign's default: read it here.
        let default;
        let own = match own {
            Some(own) => own,
            None => {
                default = moment.window(window, None);
                &default
            }
        };
        let (zoned, state, own_state) = match campaign.calling_hours.as_ref() {
            // Without calling hours the effective window is the contact's: one state, not two (a
            // run over a million contacts computes it for each).
            None => (own.zoned.clone(), own.state, own.state),
            Some(h) => {
                let effective = moment.window(window, Some(h));
                (effective.zoned, effective.state, own.state)
            }
        };
        let hours = campaign.calling_hours.as_ref();
        Self {
            window,
            source,
            hours,
            say,
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

    /// The window in force as a sentence's words, e.g. `08:00:00–20:00:00 Europe/Paris`.
    fn span(&self) -> Span<'_> {
        self.in_zone(self.window.start_time, self.window.end_time)
    }

    /// A daily span read in the window's zone (the window's own, or the calling hours').
    fn in_zone(&self, start: NaiveTime, end: NaiveTime) -> Span<'_> {
        Span {
            start,
            end,
            timezone: &self.window.timezone,
        }
    }

    /// Calling hours: the window and the campaign's calling hours share some time of day. Decided
    /// on the times alone, so it holds whatever the zone.
    pub(super) fn calling_hours_rule(&self) -> RuleOutcome {
        let say = self.say;
        let Some(h) = self.hours else {
            return outcome(Rule::CallingHours, true, say, || "no calling hours".into());
        };
        let hours = self.in_zone(h.start_time, h.end_time);
        let zoned = ZonedWindow {
            start: self.window.start_time,
            end: self.window.end_time,
            tz: chrono_tz::UTC,
            hours: Some((h.start_time, h.end_time)),
        };
        if zoned.never_opens() {
            outcome(Rule::CallingHours, false, say, || {
                format!(
                    "{} {} and calling hours {hours} have no time in common",
                    self.source,
                    self.span(),
                )
            })
        } else {
            outcome(Rule::CallingHours, true, say, || {
                format!("{} ∩ calling hours {hours}", self.span())
            })
        }
    }

    /// 6. Time zone: the window in force names a valid IANA zone.
    pub(super) fn timezone_rule(&self) -> RuleOutcome {
        match &self.zoned {
            Ok(_) => outcome(Rule::Timezone, true, self.say, || {
                format!("{} {}", self.source, self.span())
            }),
            Err(e) => outcome(Rule::Timezone, false, self.say, || {
                format!("{}: {e}", self.source)
            }),
        }
    }

    /// 7. Window: `now` is inside it, in the contact's local time.
    pub(super) fn window_rule(&self, now: DateTime<Utc>) -> RuleOutcome {
        let (Ok(z), Some(s)) = (&self.zoned, self.state) else {
            return outcome(Rule::Window, false, self.say, || {
                "no valid time zone".into()
            });
        };
        outcome_read_later(Rule::Window, s.open, self.say, || {
            WindowSentence {
                state: s,
                local: z.local(now).map(|l| l.time()),
                window: self.window,
                hours: self.hours.map(|h| (h.start_time, h.end_time)),
            }
            .to_string()
        })
    }
}

/// The window rule's sentence when the window's zone is valid: "closed: local time 08:24:18 is
/// outside 09:00:00–20:00:00 America/New_York; opens at 2026-12-07 14:00:00 UTC". Also how a
/// stored decision's is rendered when read ([`Sentences::Stored`]): the state is the decision's
/// own, the local time that of the decision's instant in the window's zone.
#[derive(Debug, Clone, Copy)]
pub struct WindowSentence<'a> {
    pub state: WindowState,
    /// The local time at the instant decided (`?` when the zone cannot place it).
    pub local: Option<NaiveTime>,
    /// The contact's window (or the campaign's default).
    pub window: &'a Window,
    /// The campaign's calling hours, read in the window's zone.
    pub hours: Option<(NaiveTime, NaiveTime)>,
}

impl Display for WindowSentence<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let span = |start, end| Span {
            start,
            end,
            timezone: &self.window.timezone,
        };
        let (open, side) = if self.state.open {
            ("open", "inside")
        } else {
            ("closed", "outside")
        };
        write!(
            f,
            "{open}: local time {} is {side} {}",
            Local(self.local),
            span(self.window.start_time, self.window.end_time)
        )?;
        if let Some((start, end)) = self.hours {
            write!(f, " ∩ calling hours {}", span(start, end))?;
        }
        match self.state.next_opening {
            _ if self.state.open => Ok(()),
            Some(next) => write!(f, "; opens at {}", At(next)),
            None => f.write_str("; no opening found"),
        }
    }
}

/// A daily span in a zone as a sentence writes it: `09:00:00–17:30:00 Europe/London`.
struct Span<'a> {
    start: NaiveTime,
    end: NaiveTime,
    timezone: &'a str,
}

impl Display for Span<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{} {}", Hms(self.start), Hms(self.end), self.timezone)
    }
}

/// The contact's local time of day, `?` when the zone cannot place it.
struct Local(Option<NaiveTime>);

impl Display for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(t) => Hms(t).fmt(f),
            None => f.write_str("?"),
        }
    }
}

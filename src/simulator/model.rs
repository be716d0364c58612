//! The deterministic propensity model behind simulated PE profiles: recency, frequency and value
//! with exponential decay, evaluated at the contact's own latest event rather than the wall clock,
//! so the same events always give the same profile:
//! * frequency `F` and value `V` are sums over events weighted by `exp(-age / 7 d)`;
//! * recency is `exp(-gap / 3 d)` for the gap between the two latest events (0.5 for a first
//!   event): a burst of activity signals more intent than the same activity spread over months;
//! * `score = 0.10 + 0.30·recency + 0.30·(1 − e^(−F/4)) + 0.30·(1 − e^(−V/2500))`, in [0.10, 1),
//!   rounded to 2 decimals. One 2,450 transaction scores 0.50; three more on the following days
//!   reach 0.68, 0.74 and 0.77 — enough to cross the default tiers and the 0.10 rise.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::profiles::{ContactWindow, Profile, ScorePoint};

const DECAY_SECS: f64 = 7.0 * 86_400.0;
const RECENCY_SECS: f64 = 3.0 * 86_400.0;

/// The dialer channels a profile can prefer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Voice,
    Email,
    Sms,
}

impl Channel {
    /// Tie-break order when two channels are equally frequent: a fixed one, so arrival order of
    /// the events never changes the answer.
    const ALL: [Channel; 3] = [Channel::Voice, Channel::Email, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    /// The dialer channel a CRM `channel_origin` points to; anything unrecognised is voice.
    pub fn from_origin(origin: &str) -> Self {
        match origin.to_ascii_lowercase().as_str() {
            "web_portal" | "web" | "website" | "portal" | "online" | "email" | "ecommerce" => {
                Channel::Email
            }
            "sms" | "text" | "mobile" | "mobile_app" | "whatsapp" => Channel::Sms,
            _ => Channel::Voice,
        }
    }
}

/// What the model keeps of an event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelEvent {
    pub timestamp: DateTime<Utc>,
    pub value: f64,
    pub channel: Option<Channel>,
}

impl ModelEvent {
    pub fn from_attributes(timestamp: DateTime<Utc>, attributes: &Map<String, Value>) -> Self {
        let value = attributes
            .get("transaction_value")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        let channel = attributes
            .get("channel_origin")
            .and_then(Value::as_str)
            .map(Channel::from_origin);
        Self {
            timestamp,
            value: value.max(0.0),
            channel,
        }
    }
}

/// The model's profile for these events (in any order), or `None` without events.
pub(crate) fn compute(contact_id: &str, events: &[ModelEvent]) -> Option<Profile> {
    let mut ordered = events.to_vec();
    // Stable sort: events with the same timestamp keep their arrival order.
    ordered.sort_by_key(|e| e.timestamp);
    let last = ordered.last()?.timestamp;

    let (mut frequency, mut value) = (0.0_f64, 0.0_f64);
    let mut previous: Option<DateTime<Utc>> = None;
    let mut history: Vec<ScorePoint> = Vec::with_capacity(ordered.len());
    for event in &ordered {
        let gap = previous.map(|p| (event.timestamp - p).num_milliseconds() as f64 / 1000.0);
        let decay = gap.map_or(0.0, |g| (-g / DECAY_SECS).exp());
        frequency = frequency * decay + 1.0;
        value = value * decay + event.value;
        let recency = gap.map_or(0.5, |g| (-g / RECENCY_SECS).exp());
        let raw = 0.10
            + 0.30 * recency
            + 0.30 * (1.0 - (-frequency / 4.0).exp())
            + 0.30 * (1.0 - (-value / 2500.0).exp());
        let score = (raw.clamp(0.0, 1.0) * 100.0).round() / 100.0;
        // One point per distinct timestamp: the score after the last event at that instant.
        match history.last_mut() {
            Some(point) if point.timestamp == event.timestamp => point.score = score,
            _ => history.push(ScorePoint {
                timestamp: event.timestamp,
                score,
            }),
        }
        previous = Some(event.timestamp);
    }

    Some(Profile {
        contact_id: contact_id.to_owned(),
        propensity_score: history.last().map_or(0.0, |p| p.score),
        channel_preference: Some(preferred_channel(&ordered).as_str().to_owned()),
        best_contact_window: Some(window_for(contact_id)),
        last_event_timestamp: Some(last),
        score_history: history,
    })
}

fn preferred_channel(events: &[ModelEvent]) -> Channel {
    let count = |channel: Channel| events.iter().filter(|e| e.channel == Some(channel)).count();
    // `max_by_key` keeps the last maximum, so iterate the tie-break order reversed.
    let best = Channel::ALL
        .iter()
        .rev()
        .map(|&c| (c, count(c)))
        .max_by_key(|&(_, n)| n);
    match best {
        Some((channel, n)) if n > 0 => channel,
        _ => Channel::Voice,
    }
}

/// A window derived from a hash of the contact id: stable across runs and processes, spread over
/// several zones so a demo always has some contacts inside their window.
pub(crate) fn window_for(contact_id: &str) -> ContactWindow {
    const ZONES: [&str; 8] = [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "Europe/London",
        "Europe/Berlin",
        "Asia/Tokyo",
        "Australia/Sydney",
    ];
    const STARTS_MIN: [u64; 8] = [480, 540, 570, 660, 780, 870, 960, 1080];
    const LENGTHS_MIN: [u64; 4] = [120, 150, 180, 240];
    let hash = fnv1a(contact_id.as_bytes());
    let start = STARTS_MIN[(hash >> 8) as usize % STARTS_MIN.len()];
    let end = start + LENGTHS_MIN[(hash >> 16) as usize % LENGTHS_MIN.len()];
    let clock = |minutes: u64| format!("{:02}:{:02}:00", minutes / 60 % 24, minutes % 60);
    ContactWindow {
        start_time: clock(start),
        end_time: clock(end),
        timezone: ZONES[hash as usize % ZONES.len()].to_owned(),
    }
}

/// FNV-1a, 64 bit: unlike `DefaultHasher`, its output is fixed forever.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 11, day, hour, 0, 0).unwrap()
    }

    fn purchase(day: u32, value: f64, channel: Option<Channel>) -> ModelEvent {
        ModelEvent {
            timestamp: at(day, 12),
            value,
            channel,
        }
    }

    #[test]
    fn no_events_means_no_profile() {
        assert!(compute("c1", &[]).is_none());
    }

    #[test]
    fn repeated_purchases_raise_the_score_through_the_tiers() {
        let events: Vec<_> = (10..14).map(|day| purchase(day, 2450.0, None)).collect();
        let profile = compute("c1", &events).unwrap();
        let scores: Vec<f64> = profile.score_history.iter().map(|p| p.score).collect();
        // The figures the module documentation promises.
        assert_eq!(scores, vec![0.50, 0.68, 0.74, 0.77]);
        assert_eq!(profile.propensity_score, 0.77);
        assert_eq!(profile.last_event_timestamp, Some(at(13, 12)));
        assert_eq!(profile.score_history[0].timestamp, at(10, 12));
    }

    #[test]
    fn arrival_order_does_not_change_the_profile() {
        let events = vec![
            purchase(12, 100.0, Some(Channel::Sms)),
            purchase(10, 900.0, None),
            purchase(11, 0.0, Some(Channel::Email)),
        ];
        let mut reversed = events.clone();
        reversed.reverse();
        assert_eq!(compute("c1", &events), compute("c1", &reversed));
    }

    #[test]
    fn a_long_silence_lowers_the_score() {
        let burst = compute("c1", &[purchase(1, 500.0, None), purchase(2, 500.0, None)]).unwrap();
        let spread = compute("c1", &[purchase(1, 500.0, None), purchase(29, 500.0, None)]).unwrap();
        assert!(burst.propensity_score > spread.propensity_score);
        assert!((0.0..=1.0).contains(&spread.propensity_score));
    }

    #[test]
    fn events_at_the_same_instant_give_one_history_point() {
        let events = [
            purchase(5, 10.0, None),
            purchase(5, 10.0, None),
            purchase(6, 10.0, None),
        ];
        let profile = compute("c1", &events).unwrap();
        assert_eq!(profile.score_history.len(), 2);
    }

    #[test]
    fn channel_is_the_most_frequent_origin_with_a_fixed_tie_break() {
        let channel = |origins: &[&str]| {
            let events: Vec<_> = origins
                .iter()
                .map(|o| purchase(1, 0.0, Some(Channel::from_origin(o))))
                .collect();
            compute("c1", &events).unwrap().channel_preference.unwrap()
        };
        assert_eq!(channel(&["web_portal", "web_portal", "phone"]), "email");
        assert_eq!(channel(&["sms", "call_center", "sms"]), "sms");
        assert_eq!(channel(&["sms", "web_portal"]), "email");
        assert_eq!(channel(&["sms", "phone"]), "voice");
        // Events without channel_origin say nothing about the channel: the default is voice.
        let silent = compute("c1", &[purchase(1, 0.0, None)]).unwrap();
        assert_eq!(silent.channel_preference.as_deref(), Some("voice"));
        assert_eq!(channel(&["carrier_pigeon"]), "voice");
    }

    #[test]
    fn window_is_stable_per_contact_and_well_formed() {
        let window = window_for("a1b2c3d4-e5f6-7890-abcd-ef1234567890");
        assert_eq!(window, window_for("a1b2c3d4-e5f6-7890-abcd-ef1234567890"));
        for id in ["a", "b", "c", "contact-42", ""] {
            let w = window_for(id);
            assert!(w.start_time < w.end_time, "{w:?}");
            assert_eq!(w.start_time.len(), 8);
            assert!(w.timezone.contains('/'));
        }
        // FNV-1a's published test vector: the window must not change between Rust releases.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}

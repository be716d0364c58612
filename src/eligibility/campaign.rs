//! The campaign document (SPEC §8) and the score tiers it targets (SPEC §7 rule 2).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::score::at_least;
use super::window::{CallingHours, Window, parse_time_zone};
use crate::domain::ids::CampaignId;
use crate::domain::problem::FieldProblem;
use crate::domain::thresholds::{Invalid, Thresholds};

/// Longest campaign name.
pub const MAX_NAME_LEN: usize = 200;
/// Longest channel name or contact-list id.
pub const MAX_KEY_LEN: usize = 128;

/// A score tier. Ordered high first, the way operators read them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    High,
    Moderate,
    Low,
}

impl Tier {
    /// high ≥ `high_tier`; moderate ≥ `moderate_tier`; low below, each with the score tolerance
    /// (0.75 − 1e-10 is high). A contact with no effective score has no tier.
    pub fn of(score: f64, thresholds: &Thresholds) -> Tier {
        if at_least(score, thresholds.high_tier) {
            Tier::High
        } else if at_least(score, thresholds.moderate_tier) {
            Tier::Moderate
        } else {
            Tier::Low
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::High => "high",
            Tier::Moderate => "moderate",
            Tier::Low => "low",
        }
    }
}

/// How eligible contacts reach the dialer (SPEC §7 "The dialer").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// pesync posts them to the dialer's contact-list API.
    Push,
    /// The dialer leases them from `GET /v1/dialer/feed`.
    Pull,
}

impl Mode {
    /// Its name, as in the campaign document and in `dialer_queue.mode`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pull => "pull",
        }
    }
}

fn default_enabled() -> bool {
    true
}

fn default_tiers() -> Vec<Tier> {
    vec![Tier::High, Tier::Moderate]
}

/// A campaign: which contacts it takes and where it sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// URL-safe (`A–Z a–z 0–9 . _ -`), at most 64 characters.
    #[schema(example = "spring-renewals")]
    pub id: String,
    #[schema(example = "Spring renewals")]
    pub name: String,
    /// Disabled campaigns are not evaluated by the scheduled run. Default true.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// When one run finds a contact eligible for several campaigns, the highest priority takes
    /// it; equal priorities are ordered by campaign id. Default 0.
    #[serde(default)]
    #[schema(example = 10)]
    pub priority: i32,
    /// Tiers the campaign takes, at least one, each once. Default high and moderate.
    #[serde(default = "default_tiers")]
    #[schema(value_type = std::collections::BTreeSet<Tier>, min_items = 1, max_items = 3)]
    pub tiers: Vec<Tier>,
    pub mode: Mode,
    /// Channel → dialer contact-list id. A contact is routed by its channel preference.
    #[schema(example = json!({"voice": "7f3c2a10-list-voice", "email": "7f3c2a10-list-email"}))]
    pub channels: BTreeMap<String, String>,
    /// Window of contacts that have none of their own.
    pub default_window: Window,
    /// Channel of contacts that have no channel preference (one of `channels`). Without it such a
    /// contact is `channel_unsupported`. Scores pushed by a model often carry no channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "voice")]
    pub default_channel: Option<String>,
    /// Local hours calls may be made (e.g. 08:00–21:00 for voice in the US), read in the zone of
    /// the window the contact has: the window is intersected with them. Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_hours: Option<CallingHours>,
}

/// Characters allowed in ids that travel in URL paths: RFC 3986 unreserved, minus `~`.
fn url_safe(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Campaign {
    /// Every problem with the document; empty when it is valid.
    pub fn validate(&self) -> Vec<FieldProblem> {
        let mut problems = Vec::new();
        let mut push =
            |field: String, message: String| problems.push(FieldProblem::new(field, message));
        self.check_id(&mut push);
        self.check_name(&mut push);
        self.check_tiers(&mut push);
        self.check_channels(&mut push);
        if let Some(c) = &self.default_channel
            && !self.channels.contains_key(c)
        {
            push(
                "default_channel".into(),
                format!("{c:?} is not one of the campaign's channels"),
            );
        }
        if let Err(e) = parse_time_zone(&self.default_window.timezone) {
            push("default_window.timezone".into(), e.to_string());
        }
        problems
    }

    /// The id is a path segment of the admin API, so it must survive a URL untouched.
    fn check_id(&self, push: &mut impl FnMut(String, String)) {
        if let Err(problem) = CampaignId::parse(&self.id) {
            push("id".into(), problem.to_string());
        }
    }

    fn check_name(&self, push: &mut impl FnMut(String, String)) {
        if self.name.trim().is_empty() {
            push("name".into(), "must not be blank".into());
        } else if self.name.chars().count() > MAX_NAME_LEN {
            push(
                "name".into(),
                format!("must be at most {MAX_NAME_LEN} characters"),
            );
        }
    }

    fn check_tiers(&self, push: &mut impl FnMut(String, String)) {
        if self.tiers.is_empty() {
            push("tiers".into(), "must list at least one tier".into());
        }
        let mut seen = BTreeSet::new();
        for tier in &self.tiers {
            if !seen.insert(*tier) {
                push("tiers".into(), format!("lists {} twice", tier.as_str()));
            }
        }
    }

    fn check_channels(&self, push: &mut impl FnMut(String, String)) {
        if self.channels.is_empty() {
            push("channels".into(), "must map at least one channel".into());
        }
        for (channel, list) in &self.channels {
            let field = format!("channels.{channel}");
            if channel.trim().is_empty() || channel.trim() != channel {
                push(
                    field.clone(),
                    "channel name must be non-blank, without surrounding spaces".into(),
                );
            } else if channel.chars().count() > MAX_KEY_LEN {
                push(
                    field.clone(),
                    format!("channel name must be at most {MAX_KEY_LEN} characters"),
                );
            }
            if list.is_empty() || list.len() > MAX_KEY_LEN || !url_safe(list) {
                // It becomes a path segment of the dialer API.
                push(
                    field,
                    format!(
                        "contact list id must be 1–{MAX_KEY_LEN} letters, digits, '.', '_' or '-'"
                    ),
                );
            }
        }
    }

    /// `Ok(self)` when valid, else every problem.
    pub fn validated(self) -> Result<Self, Invalid> {
        let problems = self.validate();
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(Invalid { problems })
        }
    }

    pub fn targets(&self, tier: Tier) -> bool {
        self.tiers.contains(&tier)
    }
}

#[cfg(test)]
impl Campaign {
    /// A campaign for the tests of the stages that run campaigns: enabled, push, taking the high
    /// and moderate tiers, one `voice` channel to the list `{id}-voice`, open all day in UTC.
    pub(crate) fn open_all_day(id: &str, priority: i32) -> Campaign {
        Campaign {
            id: id.into(),
            name: id.into(),
            enabled: true,
            priority,
            tiers: vec![Tier::High, Tier::Moderate],
            mode: Mode::Push,
            channels: BTreeMap::from([("voice".into(), format!("{id}-voice"))]),
            default_window: Window {
                start_time: chrono::NaiveTime::MIN,
                end_time: chrono::NaiveTime::MIN,
                timezone: "UTC".into(),
            },
            default_channel: None,
            calling_hours: None,
        }
    }
}

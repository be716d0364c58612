//! What the population dry run answers (issue 11 §1): counts on both sides with their difference,
//! per campaign, and the changed contacts shown with both outcomes. Plain data; [`super::compare`]
//! fills it.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::eligibility::{Reason, Tier};

/// Counts on both sides, and the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Delta {
    pub active: u64,
    pub candidate: u64,
    /// `candidate − active`.
    pub delta: i64,
}

impl Delta {
    pub(super) fn of(active: u64, candidate: u64) -> Self {
        Self {
            active,
            candidate,
            delta: candidate as i64 - active as i64,
        }
    }
}

/// One contact's outcome on one side, as the sample shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Outcome {
    /// The campaign that takes the contact (it is eligible there); null when none does.
    pub taken_by: Option<String>,
    pub tier: Option<Tier>,
    /// The reason for each campaign of this side, in run order.
    pub decisions: Vec<CampaignReason>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CampaignReason {
    pub campaign_id: String,
    pub reason: Reason,
}

/// A contact whose outcome changes.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChangedContact {
    pub contact_id: String,
    pub active: Outcome,
    pub candidate: Outcome,
}

/// What the population dry run found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Figures {
    /// Contacts evaluated (every contact with a score, as a full pass of the scheduled run).
    pub contacts: u64,
    /// Contacts whose outcome changes (see the endpoint's description).
    pub changed: u64,
    /// Decisions by reason over every campaign of each side (`eligible`: contacts taken).
    pub reasons: BTreeMap<String, Delta>,
    /// Contacts by tier (`none`: no effective score).
    pub tiers: BTreeMap<String, Delta>,
    /// The same per campaign, for every campaign of either side.
    pub campaigns: Vec<CampaignComparison>,
    /// Up to 20 changed contacts (the smallest contact ids), both outcomes each.
    pub sample: Vec<ChangedContact>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignComparison {
    pub campaign_id: String,
    /// Whether the active side runs it (stored and enabled).
    pub in_active: bool,
    /// Whether the candidate side runs it.
    pub in_candidate: bool,
    pub reasons: BTreeMap<String, Delta>,
}

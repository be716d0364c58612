//! The windows of a contact in its explanation (issue 11 §4): per enabled campaign, the contact's
//! own window, the campaign's calling hours and their intersection, each with its state now. Pure.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::eligibility::{CallingHours, Campaign, Window, WindowState};

/// Both windows of a contact for one campaign (issue 11 §4).
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignWindows {
    pub campaign_id: String,
    /// The contact's own window, else the campaign's default.
    pub contact_window: Window,
    /// Its state now alone; null when its time zone is invalid.
    pub contact_window_state: Option<WindowState>,
    /// The campaign's calling hours, read in the contact window's zone; null without.
    pub calling_hours: Option<CallingHours>,
    /// The effective window's state now (window ∩ calling hours): `open: false` and
    /// `next_opening: null` when they share no time; null when the time zone is invalid.
    pub effective: Option<WindowState>,
}

/// The windows of a contact whose own window is `own` (none: the campaigns' defaults). Pure.
pub fn campaign_windows(
    own: Option<&Window>,
    campaigns: &[Campaign],
    now: DateTime<Utc>,
) -> Vec<CampaignWindows> {
    campaigns
        .iter()
        .map(|c| {
            let window = own.unwrap_or(&c.default_window).clone();
            let zoned = window.zoned().ok();
            let effective = zoned.map(|z| match &c.calling_hours {
                Some(h) => z.within(h).state(now),
                None => z.state(now),
            });
            CampaignWindows {
                campaign_id: c.id.clone(),
                contact_window_state: zoned.map(|z| z.state(now)),
                contact_window: window,
                calling_hours: c.calling_hours,
                effective,
            }
        })
        .collect()
}

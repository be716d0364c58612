//! PE contact profiles: the model's answer (see `model.rs`) with the explicit overrides tests set,
//! served by `GET …/predictiveengagement/contacts/{contactId}`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::gate::{Call, admit};
use super::model::{Channel, compute, window_for};
use super::response::SimResponse;
use super::state::{Endpoint, Inner, SimState, double_option};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactWindow {
    pub start_time: String,
    pub end_time: String,
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorePoint {
    pub timestamp: DateTime<Utc>,
    pub score: f64,
}

/// The profile document of SPEC §7 "Polling".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub contact_id: String,
    pub propensity_score: f64,
    pub channel_preference: Option<String>,
    pub best_contact_window: Option<ContactWindow>,
    pub last_event_timestamp: Option<DateTime<Utc>>,
    pub score_history: Vec<ScorePoint>,
}

/// Fields a test pins on a contact's profile (`POST /_sim/contacts/{id}/profile`). Each given field
/// replaces the computed one; `null` for the channel, window or timestamp makes it null, so tests can
/// reach `channel_unsupported` or the campaign's default window. A contact with an override has a
/// profile even before any event (score 0.0 unless given). Values are not validated: a bad time zone
/// or an out-of-range score is exactly what some tests need.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileOverride {
    pub propensity_score: Option<f64>,
    #[serde(default, deserialize_with = "double_option")]
    pub channel_preference: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub best_contact_window: Option<Option<ContactWindow>>,
    #[serde(default, deserialize_with = "double_option")]
    pub last_event_timestamp: Option<Option<DateTime<Utc>>>,
    pub score_history: Option<Vec<ScorePoint>>,
}

impl ProfileOverride {
    fn apply(&self, profile: &mut Profile) {
        if let Some(score) = self.propensity_score {
            profile.propensity_score = score;
        }
        if let Some(channel) = &self.channel_preference {
            profile.channel_preference.clone_from(channel);
        }
        if let Some(window) = &self.best_contact_window {
            profile.best_contact_window.clone_from(window);
        }
        if let Some(at) = self.last_event_timestamp {
            profile.last_event_timestamp = at;
        }
        if let Some(history) = &self.score_history {
            profile.score_history.clone_from(history);
        }
    }
}

/// The profile PE would answer now: the model's, with any override laid over it.
pub(crate) fn resolve(inner: &Inner, contact_id: &str) -> Option<Profile> {
    let computed = inner
        .contacts
        .get(contact_id)
        .and_then(|events| compute(contact_id, events));
    let Some(pinned) = inner.profile_overrides.get(contact_id) else {
        return computed;
    };
    let mut profile = computed.unwrap_or_else(|| Profile {
        contact_id: contact_id.to_owned(),
        propensity_score: 0.0,
        channel_preference: Some(Channel::Voice.as_str().to_owned()),
        best_contact_window: Some(window_for(contact_id)),
        last_event_timestamp: None,
        score_history: Vec::new(),
    });
    pinned.apply(&mut profile);
    Some(profile)
}

/// `GET /api/v2/analytics/predictiveengagement/contacts/{contactId}`.
pub(crate) async fn get_profile(
    state: web::Data<SimState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let contact_id = path.into_inner();
    let mut call = Call::new(&req, Endpoint::Profile);
    call.contacts.push(contact_id.clone());
    admit(&state, call, |inner, _now| {
        match resolve(inner, &contact_id) {
            Some(profile) => {
                inner.stats.profiles_served += 1;
                SimResponse::json(200, serde_json::to_value(profile).unwrap_or_default())
            }
            None => SimResponse::error(404, format!("No profile for contact {contact_id}")),
        }
    })
    .await
}

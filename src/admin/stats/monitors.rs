//! The seed's two monitors (issue 11 §2) in `/v1/admin/stats`: chronology checks and contacts by
//! state, and the open change watches with their figures (`/metrics` renders the same figures:
//! `admin::prometheus::monitors`).

use serde::Serialize;
use utoipa::ToSchema;

use crate::admin::changes::{ChangeView, open_watches};
use crate::platform::context::AppState;
use crate::platform::http::ApiError;
use crate::scoring::{metrics, monitor_store};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StateCount {
    /// `consistent`, `lag`, `inversion` or `unknown`.
    #[schema(example = "inversion")]
    pub state: &'static str,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MonitorStats {
    /// This instance's chronology checks since it started (one per polled profile), by state.
    pub chronology_checks: Vec<StateCount>,
    /// Contacts by the state of their latest chronology check (all instances).
    pub chronology_contacts: Vec<StateCount>,
    /// The changes whose score stability watch is open, with its figures (as of the figures'
    /// computation, at most 5 s ago).
    pub open_watches: Vec<ChangeView>,
}

/// The database figures of the monitors (computed with the other cached figures).
#[derive(Debug, Clone, Default)]
pub struct MonitorTables {
    contacts: Vec<StateCount>,
    watches: Vec<ChangeView>,
}

pub async fn count(state: &AppState) -> Result<MonitorTables, ApiError> {
    let contacts = monitor_store::chronology_contacts(&state.reads)
        .await?
        .into_iter()
        .map(|(s, n)| StateCount {
            state: s.as_str(),
            count: u64::try_from(n).unwrap_or(0),
        })
        .collect();
    Ok(MonitorTables {
        contacts,
        watches: open_watches(state).await?,
    })
}

/// The tables' figures with this instance's chronology counters.
pub fn stats_of(t: &MonitorTables) -> MonitorStats {
    MonitorStats {
        chronology_checks: metrics::chronology_checks()
            .into_iter()
            .map(|(s, count)| StateCount {
                state: s.as_str(),
                count,
            })
            .collect(),
        chronology_contacts: t.contacts.clone(),
        open_watches: t.watches.clone(),
    }
}

//! Where events go (`PESYNC_GENESYS_EVENTS`): the Predictive Engagement events endpoint of SPEC §5
//! (`pe`, the default) or the real Genesys Cloud External Events API (`external-events`, which
//! needs `pesync genesys setup` first; see `genesys::org`).

/// The events target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventsTarget {
    /// `POST /api/v2/analytics/predictiveengagement/events`, one event per request (SPEC §5).
    #[default]
    Pe,
    /// `POST /api/v2/journey/externalevents/configurations/{id}/events`, batched.
    ExternalEvents,
}

impl EventsTarget {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventsTarget::Pe => "pe",
            EventsTarget::ExternalEvents => "external-events",
        }
    }

    /// Most events one request carries, with `events_batch` (`PESYNC_GENESYS_EVENTS_BATCH`).
    pub fn events_per_request(self, events_batch: usize) -> usize {
        match self {
            EventsTarget::Pe => 1,
            EventsTarget::ExternalEvents => events_batch.max(1),
        }
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "pe" => Ok(EventsTarget::Pe),
            "external-events" | "external_events" => Ok(EventsTarget::ExternalEvents),
            _ => anyhow::bail!(
                "PESYNC_GENESYS_EVENTS must be \"pe\" or \"external-events\", got {text:?}"
            ),
        }
    }
}

/// Default and bounds of `PESYNC_GENESYS_EVENTS_BATCH`: entities per External Events request.
pub const DEFAULT_EVENTS_BATCH: usize = 100;
pub const MAX_EVENTS_BATCH: usize = 1000;

/// The documented body limit of the External Events endpoint (reference §1a).
pub const MAX_EVENTS_REQUEST_BYTES: usize = 512_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_one_event_to_pe_and_a_batch_to_external_events() {
        assert_eq!(EventsTarget::Pe.events_per_request(100), 1);
        assert_eq!(EventsTarget::ExternalEvents.events_per_request(100), 100);
        assert_eq!(EventsTarget::ExternalEvents.events_per_request(0), 1);
    }

    #[test]
    fn parses_both_targets_and_refuses_others() {
        assert_eq!(EventsTarget::parse("pe").unwrap(), EventsTarget::Pe);
        assert_eq!(
            EventsTarget::parse(" External-Events ").unwrap(),
            EventsTarget::ExternalEvents
        );
        let e = EventsTarget::parse("journey").unwrap_err().to_string();
        assert!(
            e.contains("PESYNC_GENESYS_EVENTS") && e.contains("journey"),
            "{e}"
        );
    }
}

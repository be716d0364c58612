//! The Genesys tenant as the service was started with it: the client (none without a tenant),
//! where events go and the region. The composition root builds it once; the operator API reads it
//! (`/v1/admin/genesys`, the stats, the chart's ceiling, manifest activation), and the scheduled
//! jobs and delivery workers are handed its client. Kept out of the shared context
//! (`platform::context`), which is a leaf and imports no stage.

use crate::genesys::region::Region;
use crate::genesys::{EventsTarget, GenesysClient};

pub struct Tenant {
    /// `None` when no Genesys tenant is configured: events are accepted and wait in their lanes.
    pub client: Option<GenesysClient>,
    /// Where events go (activation keeps the org's schemas in step with the manifest while the
    /// target is external events).
    pub target: EventsTarget,
    pub region: Option<Region>,
}

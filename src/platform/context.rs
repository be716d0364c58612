//! What every handler and job shares: the pools, the clock, the Genesys client and the key that
//! seals signing secrets. A leaf: the stages import it, it imports no stage (the composition root,
//! `startup`, builds it).

use sqlx::PgPool;

use crate::genesys::GenesysClient;
use crate::platform::clock::SharedClock;

pub struct AppState {
    pub pool: PgPool,
    /// Reads outside the write path (admin reads, stats): few connections of their own and a
    /// statement timeout (see [`crate::platform::db::read_pool`]).
    pub reads: PgPool,
    pub clock: SharedClock,
    /// `None` when no Genesys tenant is configured: events are accepted and wait in their lanes.
    pub genesys: Option<GenesysClient>,
    /// Where events go and the region, as configured (`GET /v1/admin/genesys`; activation keeps
    /// the org's schemas in step with the manifest while the target is external events).
    pub genesys_target: crate::genesys::EventsTarget,
    pub genesys_region: Option<crate::genesys::region::Region>,
    /// Seals and opens source signing secrets (`PESYNC_SECRET_KEY`).
    pub secret_key: crate::platform::secrets::SecretKey,
    /// The change watch and the chronology check (issue 11 §2).
    pub monitors: crate::domain::monitors::MonitorSettings,
}

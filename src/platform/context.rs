//! What every handler and job shares: the pools, the clock and the key that seals signing
//! secrets. A leaf: the stages import it, it imports no stage (the composition root, `startup`,
//! builds it). The Genesys client is not here: it is a stage's (`admin::tenant` holds it for the
//! operator API, and the jobs and delivery workers are handed it).

use sqlx::PgPool;

use crate::platform::clock::SharedClock;

pub struct AppState {
    pub pool: PgPool,
    /// Reads outside the write path (admin reads, stats): few connections of their own and a
    /// statement timeout (see [`crate::platform::db::read_pool`]).
    pub reads: PgPool,
    pub clock: SharedClock,
    /// Seals and opens source signing secrets (`PESYNC_SECRET_KEY`).
    pub secret_key: crate::platform::secrets::SecretKey,
    /// The change watch and the chronology check (issue 11 §2).
    pub monitors: crate::domain::monitors::MonitorSettings,
    /// Rung after a commit that appended to the delivery inbox, so this instance's drain moves it
    /// into the queue without waiting for its next poll (`delivery::inbox`).
    pub delivery_inbox: std::sync::Arc<tokio::sync::Notify>,
}

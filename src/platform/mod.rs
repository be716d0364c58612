//! Shared infrastructure every stage may use; it imports no stage: the context handlers and jobs
//! share (pools, clock, Genesys client), the one clock, the database (pools, migrations, retries,
//! the cluster-wide job lock), HTTP plumbing (problem documents, auth, limits, paging, documents),
//! secrets and logging.

pub mod clock;
pub mod context;
pub mod db;
pub mod http;
pub mod secrets;
pub mod telemetry;

//! The delivery stage: lanes, per-contact order, rate ceiling, retries (SPEC §5).

pub mod queue;
pub mod recovery;
pub mod store;
pub mod worker;

pub use queue::Lane;
pub use worker::{Worker, WorkerConfig};

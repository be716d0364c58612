//! The delivery stage: lanes, per-contact order, rate ceiling, retries (SPEC §5), to PE one event
//! a request or to the External Events API in batches (issue 10 §3).

mod answers;
mod batched;
pub mod dead_letters;
pub mod external;
pub mod figures;
pub mod inbox;
pub mod metrics;
pub mod notices;
mod per_event;
pub mod poll_queue;
pub mod queue;
pub mod recovery;
pub mod store;
pub mod worker;

pub use queue::Lane;
pub use worker::{Worker, WorkerConfig};

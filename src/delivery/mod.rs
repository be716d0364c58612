//! The delivery stage: lanes, per-contact order, rate ceiling, retries (SPEC §5).

pub mod queue;

pub use queue::Lane;

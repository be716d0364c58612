//! Shared domain types that every stage may use and that import no stage.

pub mod monitors;
pub mod thresholds;

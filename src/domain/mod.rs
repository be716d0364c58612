//! Shared domain types that every stage may use and that import no stage: the thresholds
//! document, the field problem every document check reports, the identifiers taken from outside
//! (`ids`), NUL-safe text (PostgreSQL cannot store U+0000) and the monitors' settings.

pub mod ids;
pub mod monitors;
pub mod problem;
pub mod text;
pub mod thresholds;

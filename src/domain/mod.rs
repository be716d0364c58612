//! Shared domain types that every stage may use and that import no stage: the thresholds
//! document and NUL-safe text (PostgreSQL cannot store U+0000).

pub mod text;
pub mod thresholds;

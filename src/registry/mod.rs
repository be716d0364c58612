//! The canonical attribute registry's storage: sources with their versioned mappings, manifest
//! versions, and versioned thresholds. Small functions over an executor or a transaction; callers own
//! the transaction.

pub mod campaigns;
pub mod manifests;
pub mod sources;
pub mod suppressions;
pub mod thresholds;

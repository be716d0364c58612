//! The canonical attribute registry's storage: sources with their versioned mappings, manifest
//! versions, versioned thresholds, and the log of every change to them. Small functions over an
//! executor or a transaction; callers own the transaction.

pub mod campaigns;
pub mod changes;
pub mod manifests;
pub mod sources;
pub mod suppressions;
pub mod thresholds;

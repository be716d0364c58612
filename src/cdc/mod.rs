//! Change data capture (issue 13): Debezium change events turned into the event envelope, so a
//! CRM's database feeds pesync without a translator in between. Pure: parsing a change
//! ([`change`]), decoding its decimals ([`decimal`]), the per-source CDC mapping (`normalize::cdc_mapping`, part of a source's mapping document) and
//! the translation ([`translate`]). The endpoint is `ingest::cdc`; from the envelope on, a change
//! goes through exactly the ingestion pipeline (SPEC §3 normalization, §4 dedup, §5 order).

pub mod change;
pub mod decimal;
pub mod translate;

#[cfg(test)]
mod tests;

pub use crate::normalize::cdc_mapping::{CdcMapping, TableMapping};
pub use translate::{Skip, Translated, translate};

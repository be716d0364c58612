//! pesync: offline CRM events → Genesys Cloud Predictive Engagement → outbound campaigns.
//!
//! The modules follow the data's journey: `ingest` (signed HTTP intake) → `normalize` (mapping,
//! manifest, time routing; pure) → `delivery` (lanes, order, rate ceiling, retries) → `genesys` (the
//! API client) → `scoring` (profile polling, snapshots) → `eligibility` (the rules; pure) → `dialer`
//! (push and pull). `setup` prepares a real Genesys Cloud org for External Events from the manifest.
//! `admin` is the operator's API, `simulator` a stand-in Genesys for tests and demos.
//!
//! "SPEC §n" in comments is a section of `docs/SPEC.md` (the external contract; issue texts that
//! amend it are noted where they apply), "DESIGN-NOTES" is `docs/DESIGN-NOTES.md`, and "reference"
//! is `docs/genesys-real-api.md` (the real Genesys Cloud API, with its sources).

pub mod admin;
pub mod bench;
pub mod cdc;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod decisions;
pub mod delivery;
pub mod demo;
pub mod dialer;
pub mod eligibility;
pub mod genesys;
pub mod http;
pub mod import;
pub mod ingest;
pub mod jobs;
pub mod normalize;
pub mod registry;
pub mod retention;
pub mod scoring;
pub mod secrets;
pub mod setup;
pub mod simulator;
pub mod startup;
pub mod telemetry;
pub mod thresholds;

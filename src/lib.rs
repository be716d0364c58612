//! pesync: offline CRM events → Genesys Cloud Predictive Engagement → outbound campaigns.
//!
//! `ls src/` reads as the system. `cli` is the command line on top of everything; `app` is the
//! composition root (settings, startup, schedules, demo) that no stage imports; `platform` (context, clock, database, HTTP
//! plumbing, secrets, logging) and `domain` (the thresholds document) are leaves that import no
//! stage. Then the stages in the data's journey: `ingest` (signed HTTP intake) → `cdc` (Debezium
//! change events; pure) → `normalize` (mapping, manifest, time routing; pure) → `delivery` (lanes,
//! order, rate ceiling, retries) → `genesys` (the API client) → `setup` (a real org's External
//! Events from the manifest) → `scoring` (profile polling, snapshots) → `eligibility` (the rules;
//! pure) → `evaluation` (the scheduled run and its decisions) → `dialer` (push and pull), with
//! `registry` (the versioned documents) and `retention` (the prune). On top: `admin`, the
//! operator's API; beside it `simulator`, a stand-in Genesys, and `tools` (import, bench).
//!
//! "SPEC §n" in comments is a section of `docs/SPEC.md` (the external contract; issue texts that
//! amend it are noted where they apply), "DESIGN-NOTES" is `docs/DESIGN-NOTES.md`, and "reference"
//! is `docs/genesys-real-api.md` (the real Genesys Cloud API, with its sources).

pub mod cli;

pub mod app;
pub mod domain;
pub mod platform;

pub mod cdc;
pub mod delivery;
pub mod dialer;
pub mod eligibility;
pub mod evaluation;
pub mod genesys;
pub mod ingest;
pub mod normalize;
pub mod registry;
pub mod retention;
pub mod scoring;
pub mod setup;

pub mod admin;
pub mod simulator;
pub mod tools;

//! Integration tests: the real app over real HTTP, a fresh PostgreSQL database per test.

mod admin;
mod architecture;
mod campaigns;
mod cdc;
mod crash;
mod delivery;
mod dry_run;
mod evaluation;
mod genesys_setup;
mod helpers;
mod import;
mod ingest;
mod limits;
mod methods;
mod nul;
mod openapi;
mod races;
mod retention;
mod scores;
mod scoring;
mod scoring_support;
mod secrets;
mod simulator;
mod simulator_journey;
mod suppressions;
mod tenant;

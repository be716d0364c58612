//! The composition root: the command line, the settings, the service's wiring (routes, jobs,
//! signals) and the demo. Nothing else in the crate imports it.

pub mod cli;
pub mod config;
pub mod demo;
pub mod jobs;
pub mod routes;
mod server;
pub mod settings_table;
pub mod startup;

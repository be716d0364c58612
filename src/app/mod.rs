//! The composition root: the settings, the service's wiring (routes, jobs, signals) and the demo.
//! No stage imports it; the command line (`cli`) starts it, and so do the benchmarks (`tools`),
//! as an operator would.

pub mod config;
pub mod demo;
pub mod jobs;
pub mod routes;
mod server;
pub mod settings_table;
pub mod startup;

//! Integration tests: the real app over real HTTP, a fresh PostgreSQL database per test.

mod admin;
mod campaigns;
mod dry_run;
mod evaluation;
mod helpers;
mod ingest;
mod openapi;
mod scoring_support;

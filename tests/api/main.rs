//! Integration tests: the real app over real HTTP, a fresh PostgreSQL database per test.

mod admin;
mod crash;
mod delivery;
mod helpers;
mod import;
mod ingest;
mod openapi;
mod simulator;

//! Scoring (SPEC §7 "Polling"): the profile poller turns PE contact profiles into score snapshots
//! and observations, which the evaluation run ([`crate::evaluation`]) reads.

pub mod metrics;
pub mod poll;
pub mod profile;
pub mod push;
pub mod store;

pub use poll::{PollReport, poll_once};

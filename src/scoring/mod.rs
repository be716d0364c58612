//! Scoring (SPEC §7 "Polling"): the profile poller turns PE contact profiles into score snapshots
//! and observations, which the evaluation run ([`crate::evaluation`]) reads. It also keeps the
//! seed's two monitors (issue 11 §2): the score stability watch after a change and the
//! chronological consistency of PE's `last_event_timestamp`.

pub mod chronology;
pub mod metrics;
pub mod monitor_store;
pub mod poll;
pub mod profile;
pub mod push;
pub mod store;
pub mod watch;
pub mod watch_job;

pub use poll::{PollReport, poll_once};

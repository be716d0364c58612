//! The dialer (SPEC §7 "The dialer"): eligible contacts reach the outbound dialer either pushed to
//! its contact-list API ([`push`]) or leased from the pull feed ([`feed`], served by [`http`]). Both
//! go through one queue ([`queue`]); a contact waiting in it is not offered to another campaign, and
//! its cooldown starts when it is handed over (pushed, or acknowledged).

pub mod contact;
pub mod feed;
pub mod http;
pub mod metrics;
pub mod push;
pub mod queue;

pub use contact::{DialerContact, DialerData, dialer_contact};
pub use push::{PushReport, push_once};

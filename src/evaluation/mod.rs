//! Decisions: the evaluation run around the pure rules of [`crate::eligibility`]. It loads the
//! facts ([`load`]), decides ([`plan`], pure), and stores every decision with its rule outcomes
//! ([`store`]); [`run`] is the scheduled job.

pub mod compare;
pub mod cooldown;
mod deferrals;
pub mod explain;
pub mod facts;
pub mod figures;
mod grouped;
pub mod load;
pub mod metrics;
pub mod outcomes;
pub mod plan;
pub mod population;
pub mod queued;
pub mod run;
pub mod runs;
mod scored;
pub mod store;
pub mod stored_sentences;
pub mod watermarks;

pub use plan::{ContactPlan, Pending, plan};
pub use run::{BATCH, RunReport, evaluate_contacts, evaluate_once};

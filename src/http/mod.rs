//! What every HTTP route shares: problem documents, bearer auth, probes and pagination.

pub mod auth;
pub mod health;
pub mod nul;
pub mod page;
pub mod problem;

pub use problem::ApiError;

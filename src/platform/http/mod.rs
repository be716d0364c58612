//! What every HTTP route shares: problem documents, bearer auth, probes and pagination.

pub mod auth;
pub mod docs;
pub mod document;
pub mod health;
pub mod limits;
pub mod methods;
pub mod nul;
pub mod page;
pub mod problem;
pub mod responses;

pub use problem::ApiError;

//! The tools beside the service: `pesync import` (bulk exports) and `pesync bench`.

pub mod bench;
pub mod import;

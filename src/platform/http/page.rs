//! `?limit=&cursor=` pagination (SPEC §8): lists answer `{"items": […], "next_cursor": null | "…"}`.
//!
//! A cursor is opaque to clients; inside it is the last row's sequence number, so pages stay stable
//! while new rows arrive.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (as it was given: its form may change).
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::invalid(
                "limit",
                format!("must be 1–{MAX_LIMIT}, got {n}"),
            )),
        }
    }

    /// The sequence number after which the page starts (0 for the first page).
    pub fn after(&self) -> Result<i64, ApiError> {
        match &self.cursor {
            None => Ok(0),
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API issued")),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// `rows` was fetched with `limit + 1` so we know whether another page exists.
    pub fn from_rows(mut rows: Vec<(i64, T)>, limit: i64) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|(seq, _)| seq.to_string())
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(|(_, t)| t).collect(),
            next_cursor,
        }
    }
}

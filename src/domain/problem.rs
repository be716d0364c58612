//! One thing wrong with a submitted document: which field, and why. The rules that validate a
//! document (thresholds, campaigns, observations) return these, and a 422 lists them as they are.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One invalid field of a document (422s list every one of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldProblem {
    /// The field, as a dotted path into the document (`high_tier`, `channels.voice`, …).
    pub field: String,
    /// What is wrong with it, in words for the operator.
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

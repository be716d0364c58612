//! CSV rows into score observations (`POST /v1/scores`, issue 10 §4): the columns are those of an
//! observation, typed as the API reads them — `score` a JSON number, `best_contact_window` the JSON
//! object a reverse-ETL tool writes into a cell, the rest strings. An empty cell is left out, so an
//! optional value is absent, never `""`.
//!
//! Only what a CSV cannot say is checked here (a score that is not a number, a window that is not an
//! object); the rules of an observation (score in 0..1, an RFC 3339 instant, a known time zone) stay
//! with the server, which rejects an item with a machine-readable reason.

use serde_json::{Map, Number, Value};

use super::ReadError;
use super::csv_rows::cell_text;

/// The columns of a score export, in the order of the API's fields.
pub const SCORE_COLUMNS: [&str; 5] = [
    "contact_id",
    "score",
    "observed_at",
    "channel_preference",
    "best_contact_window",
];

/// The columns every score export has (the others are optional).
const REQUIRED: usize = 3;

/// Which field of an observation each column of the file is.
#[derive(Debug)]
pub(super) struct ScoreColumns {
    /// By column index: the index in [`SCORE_COLUMNS`].
    fields: Vec<usize>,
}

impl ScoreColumns {
    /// Every column must be a field of an observation: an unknown one is most likely a misspelt
    /// optional column, whose values would otherwise be dropped without a word.
    pub(super) fn from_names(names: &[String]) -> Result<Self, ReadError> {
        let fields = names
            .iter()
            .map(|name| {
                SCORE_COLUMNS.iter().position(|c| c == name).ok_or_else(|| {
                    ReadError::Header(format!(
                        "names column {name:?}, which a score export does not have (its columns are {})",
                        SCORE_COLUMNS.join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(missing) = SCORE_COLUMNS[..REQUIRED]
            .iter()
            .enumerate()
            .find(|(f, _)| !fields.contains(f))
        {
            return Err(ReadError::Header(format!(
                "has no {:?} column (a score export needs {})",
                missing.1,
                SCORE_COLUMNS[..REQUIRED].join(", ")
            )));
        }
        Ok(Self { fields })
    }

    /// The observation a row stands for, or why the row cannot be sent.
    pub(super) fn observation(&self, row: &csv::ByteRecord) -> Result<Value, String> {
        let mut obs = Map::new();
        for (i, (cell, field)) in row.iter().zip(&self.fields).enumerate() {
            if cell.is_empty() {
                continue;
            }
            let text = cell_text(cell, i)?;
            let name = SCORE_COLUMNS[*field];
            let value = match name {
                "score" => score(text)?,
                "best_contact_window" => window(text)?,
                _ => Value::String(text.to_owned()),
            };
            obs.insert(name.to_owned(), value);
        }
        Ok(Value::Object(obs))
    }
}

/// A score cell as a JSON number (`0.85`, ` 1 `, `8.5e-1`); the range is the server's to check.
fn score(text: &str) -> Result<Value, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("the score {text:?} is not a number"))
}

/// A window cell: a JSON object, whose fields the server checks.
fn window(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(format!(
            "best_contact_window {text:?} is not a JSON object such as \
             {{\"start_time\": \"09:00:00\", \"end_time\": \"17:00:00\", \"timezone\": \"Europe/Paris\"}}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn columns(names: &[&str]) -> Result<ScoreColumns, ReadError> {
        ScoreColumns::from_names(&names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
    }

    fn row(cells: &[&str]) -> csv::ByteRecord {
        csv::ByteRecord::from(cells.to_vec())
    }

    #[test]
    fn cells_are_typed_as_the_api_reads_them() {
        let c = columns(&SCORE_COLUMNS).unwrap();
        let w = r#"{"start_time": "09:00:00", "end_time": "17:00:00", "timezone": "Europe/Paris"}"#;
        assert_eq!(
            c.observation(&row(&["c-1", "0.85", "2026-12-06T10:00:00Z", "voice", w]))
                .unwrap(),
            json!({"contact_id": "c-1", "score": 0.85, "observed_at": "2026-12-06T10:00:00Z",
                   "channel_preference": "voice",
                   "best_contact_window": {"start_time": "09:00:00", "end_time": "17:00:00",
                                           "timezone": "Europe/Paris"}})
        );
        for (cell, expected) in [
            (" 1 ", json!(1.0)),
            ("0", json!(0.0)),
            ("8.5e-1", json!(0.85)),
        ] {
            let v = c.observation(&row(&["c", cell, "t", "", ""])).unwrap();
            assert_eq!(v["score"], expected, "{cell:?}");
        }
    }

    #[test]
    fn empty_optional_cells_are_absent_and_columns_may_come_in_any_order() {
        let c = columns(&["observed_at", "score", "contact_id", "channel_preference"]).unwrap();
        assert_eq!(
            c.observation(&row(&["2026-12-06T10:00:00Z", "0.5", "c-1", ""]))
                .unwrap(),
            json!({"contact_id": "c-1", "score": 0.5, "observed_at": "2026-12-06T10:00:00Z"})
        );
        // A missing required value is left out too: the server rejects the item with its reason.
        assert_eq!(
            c.observation(&row(&["", "0.5", "c-1", ""])).unwrap(),
            json!({"contact_id": "c-1", "score": 0.5})
        );
    }

    #[test]
    fn what_a_cell_cannot_be_is_the_rows_reason() {
        let c = columns(&SCORE_COLUMNS).unwrap();
        for (cells, reason) in [
            (
                ["c", "high", "t", "", ""],
                "the score \"high\" is not a number",
            ),
            (
                ["c", "0,85", "t", "", ""],
                "the score \"0,85\" is not a number",
            ),
            (
                ["c", "NaN", "t", "", ""],
                "the score \"NaN\" is not a number",
            ),
            (
                ["c", "inf", "t", "", ""],
                "the score \"inf\" is not a number",
            ),
            (
                ["c", "0.5", "t", "", "09:00-17:00"],
                "best_contact_window \"09:00-17:00\" is not a JSON object",
            ),
            (
                ["c", "0.5", "t", "", "[1]"],
                "best_contact_window \"[1]\" is not a JSON object",
            ),
        ] {
            let e = c.observation(&row(&cells)).unwrap_err();
            assert!(e.starts_with(reason), "{cells:?}: {e}");
        }
        let bad_utf8 = csv::ByteRecord::from(vec![&b"c"[..], b"0.5", b"t", b"\xff", b""]);
        assert_eq!(
            c.observation(&bad_utf8).unwrap_err(),
            "field 4 is not valid UTF-8"
        );
    }

    #[test]
    fn a_header_needs_the_required_columns_and_no_unknown_one() {
        for (names, expected) in [
            (
                &["contact_id", "score"][..],
                "has no \"observed_at\" column",
            ),
            (
                &["score", "observed_at"][..],
                "has no \"contact_id\" column",
            ),
            (
                &["contact_id", "score", "observed_at", "channel_preferance"][..],
                "names column \"channel_preferance\", which a score export does not have",
            ),
        ] {
            let e = columns(names).unwrap_err();
            assert!(
                matches!(&e, ReadError::Header(m) if m.starts_with(expected)),
                "{names:?}: {e}"
            );
        }
        assert!(columns(&["contact_id", "score", "observed_at"]).is_ok());
    }
}

//! Splits a request body into events (SPEC §2): one JSON object, a JSON array, or NDJSON.

use serde_json::Value;

/// At most this many events per request (413 past it).
pub const MAX_EVENTS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
}

impl Format {
    /// `None` for a content type we do not take (415).
    pub fn from_content_type(ct: Option<&str>) -> Option<Self> {
        let essence = ct?.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Some(Self::Json),
            "application/x-ndjson" | "application/ndjson" => Some(Self::Ndjson),
            _ => None,
        }
    }
}

/// One event as received: parsed JSON, or an NDJSON line that is not JSON (quarantined `malformed`).
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Json(Value),
    Malformed { raw: String, error: String },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BodyError {
    #[error("the body is not valid JSON: {0}")]
    Unparseable(String),
    #[error("{0} events in one request; at most {MAX_EVENTS} are allowed")]
    TooMany(usize),
}

pub fn split(format: Format, body: &[u8]) -> Result<Vec<Item>, BodyError> {
    let items = match format {
        Format::Json => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(events)) => events.into_iter().map(Item::Json).collect(),
            Ok(one) => vec![Item::Json(one)],
            Err(e) => return Err(BodyError::Unparseable(e.to_string())),
        },
        Format::Ndjson => split_ndjson(body),
    };
    if items.len() > MAX_EVENTS {
        return Err(BodyError::TooMany(items.len()));
    }
    Ok(items)
}

fn split_ndjson(body: &[u8]) -> Vec<Item> {
    body.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        // Blank lines are skipped, not quarantined (SPEC §11.5).
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| match serde_json::from_slice::<Value>(line) {
            Ok(v) => Item::Json(v),
            Err(e) => Item::Malformed {
                raw: String::from_utf8_lossy(line).into_owned(),
                error: e.to_string(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types() {
        assert_eq!(
            Format::from_content_type(Some("application/json")),
            Some(Format::Json)
        );
        assert_eq!(
            Format::from_content_type(Some("Application/JSON; charset=utf-8")),
            Some(Format::Json)
        );
        assert_eq!(
            Format::from_content_type(Some("application/x-ndjson")),
            Some(Format::Ndjson)
        );
        assert_eq!(Format::from_content_type(Some("text/plain")), None);
        assert_eq!(Format::from_content_type(None), None);
    }

    #[test]
    fn object_array_and_empty_array() {
        assert_eq!(
            split(Format::Json, b"{\"a\":1}").unwrap(),
            vec![Item::Json(json!({"a":1}))]
        );
        assert_eq!(split(Format::Json, b"[{\"a\":1},2]").unwrap().len(), 2);
        assert!(split(Format::Json, b"[]").unwrap().is_empty());
        assert!(matches!(
            split(Format::Json, b"{nope"),
            Err(BodyError::Unparseable(_))
        ));
        assert!(matches!(
            split(Format::Json, b""),
            Err(BodyError::Unparseable(_))
        ));
    }

    #[test]
    fn ndjson_keeps_bad_lines_and_skips_blank_ones() {
        let body = b"{\"a\":1}\r\n\n   \n{broken\n{\"b\":2}\n";
        let items = split(Format::Ndjson, body).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], Item::Json(json!({"a":1})));
        assert!(matches!(&items[1], Item::Malformed { raw, .. } if raw == "{broken"));
        assert_eq!(items[2], Item::Json(json!({"b":2})));
    }

    #[test]
    fn more_than_the_limit_is_refused() {
        let body = format!("[{}]", vec!["{}"; MAX_EVENTS + 1].join(","));
        assert_eq!(
            split(Format::Json, body.as_bytes()),
            Err(BodyError::TooMany(MAX_EVENTS + 1))
        );
        let body = format!("[{}]", vec!["{}"; MAX_EVENTS].join(","));
        assert_eq!(
            split(Format::Json, body.as_bytes()).unwrap().len(),
            MAX_EVENTS
        );
    }
}

//! Splits a request body into events (SPEC §2): one JSON object, a JSON array, or NDJSON.

use serde::Deserializer as _;
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
    /// An NDJSON line that is JSON: its value, and the line itself. A stored event keeps the line
    /// as its raw document instead of serializing the value again (9 % of the service's CPU in
    /// `bench ingest`, issue 12 §3); PostgreSQL parses either text into the same `jsonb`, and
    /// the line keeps the numbers exactly as they were sent.
    Line(Value, Box<str>),
    Malformed {
        raw: String,
        error: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BodyError {
    #[error("the body is not valid JSON: {0}")]
    Unparseable(String),
    /// How many items the body holds, and how many the endpoint takes.
    #[error("{0} items in one request; at most {1} are allowed")]
    TooMany(usize, usize),
}

/// A request's items: its `Content-Type` names the format, and at most `max` are taken; `noun`
/// ("events", "observations") names them in the problem documents (415, 413, 400). Shared by every
/// endpoint that takes a batch, so they refuse a body alike.
pub fn from_request(
    req: &actix_web::HttpRequest,
    body: &[u8],
    max: usize,
    noun: &str,
) -> Result<Vec<Item>, crate::platform::http::ApiError> {
    use crate::platform::http::ApiError;
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let format = Format::from_content_type(content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "send application/json (one of the {noun} or an array) or application/x-ndjson"
        ))
    })?;
    split_request(format, body, max, noun)
}

/// Splits a body of a known format, with [`from_request`]'s answers: 413 past `max`, 400 when it
/// cannot be parsed. For an endpoint that reads the format from a content type of its own.
pub fn split_request(
    format: Format,
    body: &[u8],
    max: usize,
    noun: &str,
) -> Result<Vec<Item>, crate::platform::http::ApiError> {
    use crate::platform::http::ApiError;
    split_at_most(format, body, max).map_err(|e| match e {
        BodyError::TooMany(n, max) => ApiError::PayloadTooLarge(format!(
            "{n} {noun} in one request; at most {max} are allowed"
        )),
        BodyError::Unparseable(_) => ApiError::BadRequest(e.to_string()),
    })
}

/// Splits a body into items. The number of events is known before they are all built: a body over
/// [`MAX_EVENTS`] is refused having built at most that many values (a JSON array) or none (NDJSON).
pub fn split(format: Format, body: &[u8]) -> Result<Vec<Item>, BodyError> {
    split_at_most(format, body, MAX_EVENTS)
}

/// [`split`] for an endpoint that takes up to `max` items (`POST /v1/scores`: 10,000).
pub fn split_at_most(format: Format, body: &[u8], max: usize) -> Result<Vec<Item>, BodyError> {
    match format {
        Format::Json => split_json(body, max),
        Format::Ndjson => split_ndjson(body, max),
    }
}

fn split_json(body: &[u8], max: usize) -> Result<Vec<Item>, BodyError> {
    let unparseable = |e: serde_json::Error| BodyError::Unparseable(e.to_string());
    let starts_array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    if !starts_array {
        let one = serde_json::from_slice::<Value>(body).map_err(unparseable)?;
        return Ok(vec![Item::Json(one)]);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let (events, total) = de
        .deserialize_seq(CountedEvents { max })
        .map_err(unparseable)?;
    de.end().map_err(unparseable)?;
    if total > max {
        return Err(BodyError::TooMany(total, max));
    }
    Ok(events.into_iter().map(Item::Json).collect())
}

/// Visits a JSON array: keeps the first `max` elements as values and only counts (and checks the
/// syntax of) the rest, so the answer can say how many there were.
struct CountedEvents {
    max: usize,
}

impl<'de> serde::de::Visitor<'de> for CountedEvents {
    type Value = (Vec<Value>, usize);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut events = Vec::new();
        while events.len() < self.max {
            match seq.next_element::<Value>()? {
                Some(v) => events.push(v),
                None => {
                    let n = events.len();
                    return Ok((events, n));
                }
            }
        }
        let mut total = events.len();
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
            total += 1;
        }
        Ok((events, total))
    }
}

/// NDJSON: lines are counted before any is parsed.
fn split_ndjson(body: &[u8], max: usize) -> Result<Vec<Item>, BodyError> {
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        // Blank lines are skipped, not quarantined (SPEC §11.5).
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .collect();
    if lines.len() > max {
        return Err(BodyError::TooMany(lines.len(), max));
    }
    Ok(lines.into_iter().map(line_item).collect())
}

/// One NDJSON line. Its UTF-8 is checked once, for the whole line, and the JSON parsed from the
/// text without checking each string again; a line that is not UTF-8 is parsed as bytes only for
/// serde_json's account of where it goes wrong.
fn line_item(line: &[u8]) -> Item {
    let parsed = match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str::<Value>(text).map(|v| Item::Line(v, text.into())),
        Err(_) => serde_json::from_slice::<Value>(line).map(Item::Json),
    };
    parsed.unwrap_or_else(|e| Item::Malformed {
        raw: String::from_utf8_lossy(line).into_owned(),
        error: e.to_string(),
    })
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
        assert_eq!(items[0], Item::Line(json!({"a":1}), "{\"a\":1}".into()));
        assert!(matches!(&items[1], Item::Malformed { raw, .. } if raw == "{broken"));
        assert_eq!(items[2], Item::Line(json!({"b":2}), "{\"b\":2}".into()));
    }

    #[test]
    fn a_line_that_is_not_utf8_is_malformed_with_serde_jsons_account() {
        let body = b"{\"a\":\"\xff\"}\n{\"b\":\"\xc3\xa9\"}\n";
        let items = split(Format::Ndjson, body).unwrap();
        let Item::Malformed { raw, error } = &items[0] else {
            panic!("not malformed: {:?}", items[0]);
        };
        assert_eq!(raw, "{\"a\":\"\u{fffd}\"}");
        let expected = serde_json::from_slice::<Value>(b"{\"a\":\"\xff\"}").unwrap_err();
        assert_eq!(error, &expected.to_string());
        assert_eq!(
            items[1],
            Item::Line(json!({"b": "é"}), "{\"b\":\"é\"}".into())
        );
    }

    #[test]
    fn more_than_the_limit_is_refused() {
        let body = format!("[{}]", vec!["{}"; MAX_EVENTS + 1].join(","));
        assert_eq!(
            split(Format::Json, body.as_bytes()),
            Err(BodyError::TooMany(MAX_EVENTS + 1, MAX_EVENTS))
        );
        let body = format!("[{}]", vec!["{}"; MAX_EVENTS].join(","));
        assert_eq!(
            split(Format::Json, body.as_bytes()).unwrap().len(),
            MAX_EVENTS
        );
    }

    #[test]
    fn an_array_over_the_limit_is_counted_exactly_and_still_checked_for_syntax() {
        let body = format!("[{}]", vec!["{\"a\":[1,2]}"; 2 * MAX_EVENTS + 7].join(","));
        assert_eq!(
            split(Format::Json, body.as_bytes()),
            Err(BodyError::TooMany(2 * MAX_EVENTS + 7, MAX_EVENTS))
        );
        // Bad syntax past the limit is still a body that cannot be parsed (400, not 413).
        let broken = format!("[{},{{nope]", vec!["{}"; MAX_EVENTS + 5].join(","));
        assert!(matches!(
            split(Format::Json, broken.as_bytes()),
            Err(BodyError::Unparseable(_))
        ));
        assert!(matches!(
            split(Format::Json, b"[{}] trailing"),
            Err(BodyError::Unparseable(_))
        ));
        assert_eq!(
            split(Format::Json, b"  \n [ {\"a\":1} , 2 ] \n").unwrap(),
            vec![Item::Json(json!({"a":1})), Item::Json(json!(2))]
        );
        assert_eq!(
            split(Format::Json, b" 7 ").unwrap(),
            vec![Item::Json(json!(7))]
        );
    }

    #[test]
    fn another_limit_is_applied_to_both_formats() {
        let array = format!("[{}]", ["{}"; 4].join(","));
        assert_eq!(
            split_at_most(Format::Json, array.as_bytes(), 3),
            Err(BodyError::TooMany(4, 3))
        );
        assert_eq!(
            split_at_most(Format::Ndjson, "{}\n".repeat(4).as_bytes(), 3),
            Err(BodyError::TooMany(4, 3))
        );
        assert_eq!(
            split_at_most(Format::Json, array.as_bytes(), 4)
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn ndjson_lines_are_counted_before_any_is_parsed() {
        // Unparseable lines count as events (each would be quarantined), blank ones do not.
        let over = "{broken\n\n".repeat(MAX_EVENTS + 1);
        assert_eq!(
            split(Format::Ndjson, over.as_bytes()),
            Err(BodyError::TooMany(MAX_EVENTS + 1, MAX_EVENTS))
        );
        let at = "{\"a\":1}\r\n \n".repeat(MAX_EVENTS);
        assert_eq!(
            split(Format::Ndjson, at.as_bytes()).unwrap().len(),
            MAX_EVENTS
        );
    }
}

//! Text PostgreSQL cannot store: the NUL character (U+0000). `text` columns refuse it, and `jsonb`
//! refuses the `\u0000` escape even inside a string, so a single NUL reaching a query fails the
//! whole transaction (issue 8). Every text taken from outside is checked here before it goes near
//! the database: events (→ `invalid_characters`), admin documents and URLs (→ 422).
//!
//! The stored form of something that holds a NUL is its JSON text with each NUL written as the JSON
//! escape `\u0000` (six ASCII characters): what `serde_json` writes for an event, and what
//! [`escape_nul`] makes of a raw NDJSON line. That text holds no NUL, so it can be stored.

use serde_json::Value;

/// The message for a field holding a NUL.
pub const NUL_MESSAGE: &str = "contains a NUL character (U+0000), which cannot be stored";

pub fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// Whether the JSON `text` may decode to a key or string holding a NUL. JSON writes a NUL only as
/// the escape `\u0000` (a raw control character is not valid JSON), so text without that escape
/// (nor a NUL byte, for text that is not JSON) decodes to none: a search of the text, where a walk
/// of the parsed value cost ingestion 6 % of the service's CPU (issue 12 §3). An escaped
/// backslash before `u0000` is a false alarm, which only costs the walk.
pub fn json_may_hold_nul(text: &str) -> bool {
    text.contains("\\u0000") || has_nul(text)
}

/// Whether any key or string in `v`, at any depth, holds a NUL. Allocates nothing: it runs on every
/// event received.
pub fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => has_nul(s),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, x)| has_nul(k) || holds_nul(x)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Where the first NUL in `v` is, as a field path (`contact_id`, `attributes.x`, `ids[2]`): the
/// key or string holding it, its own NUL escaped so the path can be stored and shown. `Some("")`
/// when `v` itself is such a string.
pub fn nul_path(v: &Value) -> Option<String> {
    if !holds_nul(v) {
        return None;
    }
    let mut path = String::new();
    let mut at = v;
    loop {
        match at {
            Value::Array(items) => {
                let (i, x) = items.iter().enumerate().find(|(_, x)| holds_nul(x))?;
                path.push_str(&format!("[{i}]"));
                at = x;
            }
            Value::Object(map) => {
                let (k, x) = map.iter().find(|(k, x)| has_nul(k) || holds_nul(x))?;
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&escape_nul(k));
                if has_nul(k) {
                    return Some(path);
                }
                at = x;
            }
            _ => return Some(path),
        }
    }
}

/// `s` with each NUL written as the JSON escape `\u0000`.
pub fn escape_nul(s: &str) -> String {
    s.replace('\0', "\\u0000")
}

/// `s` itself when it holds no NUL (no copy), else [`escape_nul`] of it: for text received whole,
/// such as an API's answer kept for the operator.
pub fn without_nul(s: String) -> String {
    if has_nul(&s) { escape_nul(&s) } else { s }
}

/// The inverse of [`escape_nul`], for a raw line read back from the quarantine.
pub fn unescape_nul(s: &str) -> String {
    s.replace("\\u0000", "\0")
}

/// The storable form of a value holding a NUL: its JSON text, NUL written `\u0000` (as a JSON
/// string, so it fits the `jsonb` raw column).
pub fn storable(v: &Value) -> Value {
    Value::String(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nul_in_strings_and_keys_at_any_depth() {
        assert_eq!(nul_path(&json!({"a": "x", "b": [1, "ok"]})), None);
        assert_eq!(
            nul_path(&json!({"contact_id": "c\u{0}"})).unwrap(),
            "contact_id"
        );
        assert_eq!(
            nul_path(&json!({"a": 1, "attributes": {"ok": "y", "v": "\u{0}"}})).unwrap(),
            "attributes.v"
        );
        assert_eq!(
            nul_path(&json!({"ids": ["a", "b\u{0}"]})).unwrap(),
            "ids[1]"
        );
        assert_eq!(
            nul_path(&json!({"attributes": {"k\u{0}ey": 1}})).unwrap(),
            "attributes.k\\u0000ey",
            "a key's own NUL is escaped in the path"
        );
        assert_eq!(nul_path(&json!([{"x": 1}, ["\u{0}"]])).unwrap(), "[1][0]");
        assert_eq!(nul_path(&json!("\u{0}")).unwrap(), "");
        assert!(!holds_nul(&json!(null)) && !holds_nul(&json!(1.5)));
    }

    #[test]
    fn json_text_tells_whether_its_value_may_hold_a_nul() {
        for (text, may) in [
            (r#"{"contact_id": "c-1", "attributes": {"a": "x"}}"#, false),
            (r#"{"contact_id": "c\u0000"}"#, true),
            (r#"{"k\u0000": 1}"#, true),
            // An escaped backslash before `u0000` is no NUL: a false alarm costs only the walk.
            (r#"{"a": "\\u0000"}"#, true),
            ("{\"a\": 1}\0", true),
            (r#"{"a": "\u0001 \u1000"}"#, false),
        ] {
            assert_eq!(json_may_hold_nul(text), may, "{text}");
        }
        // What serde_json writes for a value holding one says so.
        let v = json!({"a": ["x\u{0}"]});
        assert!(holds_nul(&v) && json_may_hold_nul(&v.to_string()));
    }

    #[test]
    fn the_storable_form_holds_no_nul_and_gives_the_value_back() {
        let v = json!({"contact_id": "c\u{0}1", "k\u{0}": ["\u{0}"]});
        let Value::String(text) = storable(&v) else {
            panic!("a string")
        };
        assert!(!has_nul(&text));
        assert!(text.contains("c\\u00001"));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn escape_and_unescape_round_trip() {
        let line = "{\"a\": \"x\0y\"}\0";
        let escaped = escape_nul(line);
        assert_eq!(escaped, "{\"a\": \"x\\u0000y\"}\\u0000");
        assert_eq!(unescape_nul(&escaped), line);
        assert_eq!(without_nul(line.to_owned()), escaped);
        assert_eq!(without_nul("plain".to_owned()), "plain");
    }
}

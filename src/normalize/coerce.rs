//! Lossless coercion of one attribute value to its manifest type (SPEC §3, §11.3).
//!
//! "Lossless" is the whole rule: a value is converted only when the result means exactly what the
//! source sent, so PE never learns a number or a flag the CRM did not hold. Everything else is a
//! `type_mismatch` and waits in quarantine for a human.

use serde_json::{Number, Value};

use crate::normalize::manifest::AttrType;
use crate::normalize::time::{format_utc, parse_timestamp};

/// The value as it must reach PE, or `None` when it cannot be coerced losslessly. Null is the
/// caller's business (presence rules), so it is always a mismatch here.
pub fn coerce(kind: AttrType, value: &Value) -> Option<Value> {
    match kind {
        AttrType::String => to_string(value),
        AttrType::Number => to_number(value),
        AttrType::Integer => to_integer(value),
        AttrType::Boolean => to_boolean(value),
        AttrType::Timestamp => to_timestamp(value),
    }
}

/// Strings pass; an *integer* JSON number becomes its decimal text, because CRMs often emit record
/// ids and codes as numbers (`88421`) and the decimal text is the one spelling of that integer.
/// Fractional numbers (`2450.5`, `42.0`) and booleans are refused: their text form is not unique
/// (`42.0` vs `42`), so the string PE would get is a guess.
fn to_string(value: &Value) -> Option<Value> {
    match value {
        Value::String(_) => Some(value.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Value::String(n.to_string())),
        _ => None,
    }
}

/// Numbers pass unchanged (an integer stays an integer, §11.3 allows `2450` or `2450.0`). A string
/// is accepted when it is a plain decimal number (`-12`, `2450.00`, `1.5e3`): no whitespace, no
/// `inf`/`nan`, no hex, nothing that overflows to infinity or underflows a non-zero value to 0.
fn to_number(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(text) => {
            let digits = decimal_digits(text)?;
            let parsed: f64 = text.parse().ok()?;
            let underflowed = parsed == 0.0 && digits.bytes().any(|d| d != b'0');
            if !parsed.is_finite() || underflowed {
                return None;
            }
            Number::from_f64(parsed).map(Value::Number)
        }
        _ => None,
    }
}

/// An integer JSON number passes; a float with no fraction that fits an i64 becomes that integer
/// (`42.0` → 42). A string is read exactly, never through f64: `[+-]digits` optionally followed by
/// a zero fraction (`"42"`, `"42.00"`), within i64 (or u64 when positive). `"42.5"`, `42.5` and
/// exponent strings (`"4.2e1"`) are mismatches.
fn to_integer(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(value.clone()),
        Value::Number(n) => {
            let f = n.as_f64()?;
            // 2^63 is exactly representable; `as` saturates, so bound it strictly ourselves.
            let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f);
            (f.fract() == 0.0 && in_range).then(|| Value::from(f as i64))
        }
        Value::String(text) => {
            let (whole, fraction) = match text.split_once('.') {
                Some((whole, fraction)) => (whole, Some(fraction)),
                None => (text.as_str(), None),
            };
            let digits = whole.strip_prefix(['+', '-']).unwrap_or(whole);
            let zero_fraction =
                fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b == b'0'));
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || !zero_fraction {
                return None;
            }
            whole
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| whole.parse::<u64>().map(Value::from))
                .ok()
        }
        _ => None,
    }
}

/// Booleans pass; so do exactly the strings `"true"` and `"false"`. Other spellings (`"TRUE"`,
/// `"yes"`, `1`) are refused: each CRM has its own, and guessing one wrong flips a signal.
fn to_boolean(value: &Value) -> Option<Value> {
    match value {
        Value::Bool(_) => Some(value.clone()),
        Value::String(text) if text == "true" => Some(Value::Bool(true)),
        Value::String(text) if text == "false" => Some(Value::Bool(false)),
        _ => None,
    }
}

/// An RFC 3339 string with an offset, re-written in UTC (`…Z`), as `event_timestamp` is.
fn to_timestamp(value: &Value) -> Option<Value> {
    match value {
        Value::String(text) => parse_timestamp(text).map(|ts| Value::String(format_utc(ts))),
        _ => None,
    }
}

/// Checks `[+-]?digits(.digits)?([eE][+-]?digits)?` and returns the mantissa digits (integer and
/// fraction parts, without the point), so the caller can tell a true zero from an underflow.
fn decimal_digits(text: &str) -> Option<String> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, "0"));
    let exponent_ok = exponent.is_none_or(|e| all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    (all_digits(whole) && all_digits(fraction) && exponent_ok).then(|| format!("{whole}{fraction}"))
}

/// A short description of a value for a quarantine detail, e.g. `the string "4.5"`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quoted(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// `text` quoted and escaped for a quarantine detail, cut after 64 characters so that a runaway
/// field does not bloat every listing (the full value stays in the raw payload).
pub fn quoted(text: &str) -> String {
    const MAX_CHARS: usize = 64;
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(kind: AttrType, input: Value, expected: Value) {
        assert_eq!(coerce(kind, &input), Some(expected), "{kind:?} of {input}");
    }

    fn mismatch(kind: AttrType, input: Value) {
        assert_eq!(
            coerce(kind, &input),
            None,
            "{kind:?} of {input} should mismatch"
        );
    }

    #[test]
    fn string_rules() {
        ok(AttrType::String, json!("web_portal"), json!("web_portal"));
        ok(AttrType::String, json!(""), json!(""));
        ok(AttrType::String, json!(88421), json!("88421"));
        ok(AttrType::String, json!(-7), json!("-7"));
        ok(
            AttrType::String,
            json!(u64::MAX),
            json!("18446744073709551615"),
        );
        for bad in [
            json!(42.0),
            json!(2450.5),
            json!(true),
            json!(null),
            json!([]),
            json!({}),
        ] {
            mismatch(AttrType::String, bad);
        }
    }

    #[test]
    fn number_rules() {
        ok(AttrType::Number, json!(2450), json!(2450));
        ok(AttrType::Number, json!(2450.5), json!(2450.5));
        ok(AttrType::Number, json!("2450.00"), json!(2450.0));
        ok(AttrType::Number, json!("-12"), json!(-12.0));
        ok(AttrType::Number, json!("+0.25"), json!(0.25));
        ok(AttrType::Number, json!("1.5e3"), json!(1500.0));
        ok(AttrType::Number, json!("0.000"), json!(0.0));
        for bad in [
            "", " 1", "1 ", "1,5", ".5", "5.", "inf", "NaN", "infinity", "0x10", "1e", "1e400",
            "1e-400", "--1", "1.2.3", "½",
        ] {
            mismatch(AttrType::Number, json!(bad));
        }
        for bad in [json!(true), json!(null), json!([1]), json!({"v": 1})] {
            mismatch(AttrType::Number, bad);
        }
    }

    #[test]
    fn integer_rules() {
        ok(AttrType::Integer, json!(42), json!(42));
        ok(AttrType::Integer, json!(42.0), json!(42));
        ok(AttrType::Integer, json!(-3.0), json!(-3));
        ok(AttrType::Integer, json!("42"), json!(42));
        ok(AttrType::Integer, json!("-42"), json!(-42));
        ok(AttrType::Integer, json!("+7"), json!(7));
        ok(AttrType::Integer, json!("42.00"), json!(42));
        ok(AttrType::Integer, json!("007"), json!(7));
        ok(AttrType::Integer, json!(u64::MAX), json!(u64::MAX));
        ok(
            AttrType::Integer,
            json!("18446744073709551615"),
            json!(u64::MAX),
        );
        for bad in [
            json!(42.5),
            json!(1e19),
            json!("42.5"),
            json!("42."),
            json!("4.2e1"),
            json!("1e3"),
            json!(""),
            json!("-"),
            json!(" 42"),
            json!("18446744073709551616"),
            json!("-9223372036854775809"),
            json!(true),
            json!(null),
        ] {
            mismatch(AttrType::Integer, bad);
        }
    }

    #[test]
    fn integer_edges_of_i64() {
        ok(AttrType::Integer, json!(i64::MIN), json!(i64::MIN));
        ok(
            AttrType::Integer,
            json!("-9223372036854775808"),
            json!(i64::MIN),
        );
        ok(
            AttrType::Integer,
            json!(-9_223_372_036_854_775_808.0),
            json!(i64::MIN),
        );
        mismatch(AttrType::Integer, json!(9_223_372_036_854_775_808.0));
    }

    #[test]
    fn boolean_rules() {
        ok(AttrType::Boolean, json!(true), json!(true));
        ok(AttrType::Boolean, json!(false), json!(false));
        ok(AttrType::Boolean, json!("true"), json!(true));
        ok(AttrType::Boolean, json!("false"), json!(false));
        for bad in [
            json!("TRUE"),
            json!("True"),
            json!("yes"),
            json!("1"),
            json!(1),
            json!(0),
            json!(null),
        ] {
            mismatch(AttrType::Boolean, bad);
        }
    }

    #[test]
    fn timestamp_rules() {
        ok(
            AttrType::Timestamp,
            json!("2024-11-15T15:32:00+01:00"),
            json!("2024-11-15T14:32:00Z"),
        );
        ok(
            AttrType::Timestamp,
            json!("2024-11-15T14:32:00.250Z"),
            json!("2024-11-15T14:32:00.250Z"),
        );
        for bad in [
            json!("2024-11-15T14:32:00"),
            json!("2024-11-15"),
            json!(1731681120),
            json!(null),
        ] {
            mismatch(AttrType::Timestamp, bad);
        }
    }

    #[test]
    fn describe_is_short_and_typed() {
        assert_eq!(describe(&json!("4.5")), "the string \"4.5\"");
        assert_eq!(describe(&json!(4.5)), "the number 4.5");
        assert_eq!(describe(&json!([1])), "an array");
        let long = "x".repeat(100);
        assert_eq!(
            describe(&json!(long)),
            format!("the string {:?}…", "x".repeat(64))
        );
    }

    proptest::proptest! {
        #[test]
        fn every_i64_text_is_that_integer(n: i64) {
            proptest::prop_assert_eq!(coerce(AttrType::Integer, &json!(n.to_string())), Some(json!(n)));
        }

        #[test]
        fn every_finite_f64_text_is_that_number(f in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            // `{:e}` always prints the grammar we accept and round-trips exactly.
            let text = format!("{f:e}");
            proptest::prop_assert_eq!(coerce(AttrType::Number, &json!(text)), Some(json!(f)));
        }
    }
}

//! Debezium's decimal encodings, decoded to exact decimal text (never through a float).
//!
//! With `decimal.handling.mode=precise` (the default) Kafka Connect's `Decimal` logical type is the
//! unscaled value as big-endian two's-complement bytes, base64 in JSON, with the scale in the
//! schema's `parameters.scale`; PostgreSQL `numeric` without a declared scale becomes
//! `io.debezium.data.VariableScaleDecimal`, a struct `{"scale": 2, "value": "<base64>"}`.
//! `"2450.00"` keeps its trailing zeros: the scale is part of what the database held.

use base64::Engine as _;
use serde_json::Value;

/// Larger unscaled values are refused: 64 bytes is ~154 digits, beyond any SQL `numeric` precision
/// a CRM would declare, and it bounds the quadratic digit conversion below.
pub const MAX_BYTES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("is not base64")]
    NotBase64,
    #[error("is empty")]
    Empty,
    #[error("has more than {MAX_BYTES} bytes")]
    TooLong,
    #[error("has a scale outside -1000..=1000")]
    BadScale,
    #[error("is not a {{scale, value}} decimal")]
    NotVariableScale,
}

/// The decimal text of a base64 unscaled value at `scale`: `("BNI=", 2)` → `"12.34"`.
pub fn from_base64(text: &str, scale: i32) -> Result<String, DecimalError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| DecimalError::NotBase64)?;
    from_bytes(&bytes, scale)
}

/// A `VariableScaleDecimal` struct: `{"scale": 2, "value": "BNI="}` → `"12.34"`.
pub fn from_variable_scale(value: &Value) -> Result<String, DecimalError> {
    let obj = value.as_object().ok_or(DecimalError::NotVariableScale)?;
    let (Some(scale), Some(Value::String(unscaled)), 2) = (
        obj.get("scale").and_then(Value::as_i64),
        obj.get("value"),
        obj.len(),
    ) else {
        return Err(DecimalError::NotVariableScale);
    };
    let scale = i32::try_from(scale).map_err(|_| DecimalError::BadScale)?;
    from_base64(unscaled, scale)
}

/// Whether a value has the shape of a `VariableScaleDecimal` (exactly `scale` and `value`), so it
/// is recognized without the schema too.
pub fn is_variable_scale(value: &Value) -> bool {
    value.as_object().is_some_and(|o| {
        o.len() == 2
            && o.get("scale").is_some_and(Value::is_i64)
            && o.get("value").is_some_and(Value::is_string)
    })
}

/// Big-endian two's complement `bytes` at `scale` as decimal text.
pub fn from_bytes(bytes: &[u8], scale: i32) -> Result<String, DecimalError> {
    if bytes.is_empty() {
        return Err(DecimalError::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(DecimalError::TooLong);
    }
    if !(-1000..=1000).contains(&scale) {
        return Err(DecimalError::BadScale);
    }
    let negative = bytes[0] & 0x80 != 0;
    let magnitude = if negative {
        negate(bytes)
    } else {
        bytes.to_vec()
    };
    let mut digits = to_decimal_digits(&magnitude);
    let mut text = String::new();
    if negative {
        text.push('-');
    }
    if scale <= 0 {
        if digits != "0" {
            digits.push_str(&"0".repeat(scale.unsigned_abs() as usize));
        }
        text.push_str(&digits);
        return Ok(text);
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
    }
    let (whole, fraction) = digits.split_at(digits.len() - scale);
    text.push_str(whole);
    text.push('.');
    text.push_str(fraction);
    Ok(text)
}

/// The magnitude of a negative two's-complement number: invert every bit and add one.
fn negate(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for b in out.iter_mut().rev() {
        let (sum, carry) = b.overflowing_add(1);
        *b = sum;
        if !carry {
            break;
        }
    }
    out
}

/// Unsigned big-endian bytes as decimal digits, by repeated division by 10.
fn to_decimal_digits(bytes: &[u8]) -> String {
    let mut n: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    if n.is_empty() {
        return "0".to_owned();
    }
    let mut digits = Vec::new();
    while !n.is_empty() {
        let mut remainder: u16 = 0;
        for b in n.iter_mut() {
            let cur = (remainder << 8) | u16::from(*b);
            *b = (cur / 10) as u8;
            remainder = cur % 10;
        }
        digits.push(b'0' + remainder as u8);
        let zeros = n.iter().take_while(|b| **b == 0).count();
        n.drain(..zeros);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn positive_values_keep_their_scale() {
        // 1234 = 0x04D2: the base64 Debezium sends for 12.34 in a NUMERIC(10,2).
        assert_eq!(from_base64("BNI=", 2).unwrap(), "12.34");
        // 245000 = 0x03 0xBD 0x08 → 2450.00, trailing zeros kept.
        assert_eq!(from_bytes(&[0x03, 0xBD, 0x08], 2).unwrap(), "2450.00");
        assert_eq!(from_bytes(&[0x05], 3).unwrap(), "0.005");
        assert_eq!(from_bytes(&[0x00], 2).unwrap(), "0.00");
        assert_eq!(from_bytes(&[0x07], 0).unwrap(), "7");
        assert_eq!(from_bytes(&[0x07], -2).unwrap(), "700");
        assert_eq!(from_bytes(&[0x00], -2).unwrap(), "0");
    }

    #[test]
    fn negative_values_are_twos_complement() {
        assert_eq!(from_bytes(&[0xFB, 0x2E], 2).unwrap(), "-12.34");
        assert_eq!(from_bytes(&[0xFF], 0).unwrap(), "-1");
        assert_eq!(from_bytes(&[0x80], 0).unwrap(), "-128");
        assert_eq!(from_bytes(&[0xFF, 0x7F], 0).unwrap(), "-129");
        assert_eq!(from_bytes(&[0xFF], 3).unwrap(), "-0.001");
    }

    #[test]
    fn values_beyond_i128_are_exact() {
        // 10^40 + 1 at scale 5: no float, no i128 could carry it.
        let n: Vec<u8> = {
            let mut digits = vec![0u8; 20];
            // big-endian bytes of 10^40 + 1
            let mut value = [0u32; 5];
            value[0] = 1;
            for _ in 0..40 {
                let mut carry = 0u64;
                for limb in value.iter_mut() {
                    let v = u64::from(*limb) * 10 + carry;
                    *limb = v as u32;
                    carry = v >> 32;
                }
            }
            value[0] += 1;
            for (i, limb) in value.iter().enumerate() {
                let b = limb.to_be_bytes();
                digits[16 - 4 * i..20 - 4 * i].copy_from_slice(&b);
            }
            digits
        };
        assert_eq!(
            from_bytes(&n, 5).unwrap(),
            "100000000000000000000000000000000000.00001"
        );
        assert_eq!(from_base64(&b64(&n), 0).unwrap().len(), 41);
    }

    #[test]
    fn variable_scale_structs() {
        assert_eq!(
            from_variable_scale(&json!({"scale": 2, "value": "BNI="})).unwrap(),
            "12.34"
        );
        assert_eq!(
            from_variable_scale(&json!({"scale": 0, "value": "Kg=="})).unwrap(),
            "42"
        );
        assert!(is_variable_scale(&json!({"scale": 2, "value": "BNI="})));
        assert!(!is_variable_scale(
            &json!({"scale": 2, "value": "BNI=", "x": 1})
        ));
        assert!(!is_variable_scale(&json!("BNI=")));
        assert_eq!(
            from_variable_scale(&json!({"scale": "2", "value": "BNI="})),
            Err(DecimalError::NotVariableScale)
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(from_base64("not base64!", 2), Err(DecimalError::NotBase64));
        assert_eq!(from_base64("", 2), Err(DecimalError::Empty));
        assert_eq!(
            from_bytes(&[1; MAX_BYTES + 1], 0),
            Err(DecimalError::TooLong)
        );
        assert_eq!(from_bytes(&[1], 5000), Err(DecimalError::BadScale));
        assert_eq!(from_bytes(&[1], i32::MIN), Err(DecimalError::BadScale));
    }
}

//! Numbers as Redis reads and writes them, shared by the router (arguments) and the
//! nodes (stored values): `string2ll`, `string2ld` and their formatting.

/// The error Redis gives for a value that is not a 64-bit integer.
pub const NOT_AN_INTEGER: &str = "value is not an integer or out of range";
/// The error Redis gives for a value that is not a float.
pub const NOT_A_FLOAT: &str = "value is not a valid float";

/// Parses an integer exactly as Redis's `string2ll` does: optional `-`, no `+`, no
/// leading zeros, no spaces, no `-0`, within `i64`.
pub fn parse_redis_int(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes[0] {
        b'-' => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if !matches!(digits.first(), Some(b'1'..=b'9')) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i128 = 0;
    for d in digits {
        value = value * 10 + i128::from(d - b'0');
        if value > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    let value = if negative { -value } else { value };
    i64::try_from(value).ok()
}

/// Parses a float as Redis's `string2ld` accepts it (no spaces, no NaN).
pub fn parse_redis_float(bytes: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| !v.is_nan())
}

/// Formats a float the way `INCRBYFLOAT` stores it: plain decimal, shortest form that
/// reads back exactly, no exponent, no trailing zeros, never `-0`.
pub fn format_float(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    format!("{value}")
}

/// Formats a double reply (`inf`, `-inf`, shortest round-trip otherwise).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        if d > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_string2ll() {
        assert_eq!(parse_redis_int(b"0"), Some(0));
        assert_eq!(parse_redis_int(b"-12"), Some(-12));
        assert_eq!(parse_redis_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_redis_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1.0",
        ] {
            assert_eq!(
                parse_redis_int(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn floats_format_without_exponent_or_trailing_zeros() {
        assert_eq!(format_float(10.5 + 0.1), "10.6");
        assert_eq!(format_float(5000.0), "5000");
        assert_eq!(format_float(-0.0), "0");
        assert_eq!(parse_redis_float(b" 1"), None);
        assert_eq!(parse_redis_float(b"nan"), None);
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }
}

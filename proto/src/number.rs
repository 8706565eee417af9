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

/// Parses a double as Redis's `getDoubleFromObject` accepts it (`strtod`, no spaces,
/// no NaN, and a number too large or too small for a double is out of range).
pub fn parse_redis_double(bytes: &[u8]) -> Option<f64> {
    let value = parse_redis_float(bytes)?;
    let text = std::str::from_utf8(bytes).ok()?;
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let spelled_inf = text.to_ascii_lowercase().contains("inf");
    let underflow = value == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9'));
    ((!value.is_infinite() || spelled_inf) && !underflow).then_some(value)
}

/// Formats a float the way `INCRBYFLOAT` stores it: plain decimal, shortest form that
/// reads back exactly, no exponent, no trailing zeros, never `-0`.
pub fn format_float(value: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    format!("{value}")
}

/// Formats a double as Redis 7.0 replies one (`addReplyDouble`, `d2string`): `inf`,
/// `-inf`, else C's `%.17g` (17 significant digits, trailing zeros dropped, an exponent
/// below 1e-4 or from 1e17 on).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{d:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("an exponent");
    let exp: i32 = exp.parse().expect("a number");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{d:.*}", (16 - exp) as usize))
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
        assert_eq!(parse_redis_double(b"1e400"), None);
        assert_eq!(parse_redis_double(b"1e-400"), None);
        assert_eq!(parse_redis_double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_redis_double(b"0e5"), Some(0.0));
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        for (d, text) in [
            (1.1, "1.1000000000000001"),
            (0.1, "0.10000000000000001"),
            (2.0, "2"),
            (3e20, "3e+20"),
            (1e-5, "1.0000000000000001e-05"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e-300, "1e-300"),
            (-2.5, "-2.5"),
            (0.0001, "0.0001"),
            (1e16, "10000000000000000"),
        ] {
            assert_eq!(format_double(d), text, "{d}");
        }
    }
}

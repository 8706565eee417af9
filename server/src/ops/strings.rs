//! String commands, with Redis 7.0's replies and error texts.

use super::engine::Engine;
use super::{Expiry, LcsOptions, OpResult, SetCond, SetReply};
use std::io;

/// The error Redis gives for a value that is not a 64-bit integer.
pub const NOT_AN_INTEGER: &str = "value is not an integer or out of range";
/// The error for a value above the configured limit.
pub const TOO_LARGE: &str = "string exceeds maximum allowed size (max-value-bytes)";

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

impl Engine<'_> {
    fn resolve(&self, expiry: Expiry, current: Option<u64>) -> Option<u64> {
        let clamp = |ms: i128| ms.clamp(1, i128::from(i64::MAX)) as u64;
        match expiry {
            Expiry::Clear => None,
            Expiry::Keep => current,
            Expiry::In(ms) => Some(clamp(i128::from(self.now_ms) + i128::from(ms))),
            Expiry::At(ms) => Some(clamp(i128::from(ms))),
        }
    }

    pub(crate) fn get(&mut self, key: &[u8]) -> io::Result<OpResult> {
        Ok(self
            .live(key)?
            .map_or(OpResult::Nil, |v| OpResult::Bulk(v.payload)))
    }

    pub(super) fn set(
        &mut self,
        key: &[u8],
        value: &[u8],
        cond: SetCond,
        get: bool,
        expiry: Expiry,
        reply: SetReply,
    ) -> io::Result<OpResult> {
        let old = self.live(key)?;
        let previous = get.then(|| {
            old.as_ref()
                .map_or(OpResult::Nil, |v| OpResult::Bulk(v.payload.clone()))
        });
        let blocked = match cond {
            SetCond::Always => false,
            SetCond::IfAbsent => old.is_some(),
            SetCond::IfPresent => old.is_none(),
        };
        if blocked {
            return Ok(previous.unwrap_or(match reply {
                SetReply::Ok => OpResult::Nil,
                SetReply::Flag => OpResult::Int(0),
            }));
        }
        let expires = self.resolve(expiry, old.and_then(|v| v.expires_at_ms));
        self.put(key, value.to_vec(), expires);
        Ok(previous.unwrap_or(match reply {
            SetReply::Ok => OpResult::Ok,
            SetReply::Flag => OpResult::Int(1),
        }))
    }

    pub(super) fn getdel(&mut self, key: &[u8]) -> io::Result<OpResult> {
        let Some(v) = self.live(key)? else {
            return Ok(OpResult::Nil);
        };
        self.remove(key);
        Ok(OpResult::Bulk(v.payload))
    }

    pub(super) fn getex(&mut self, key: &[u8], expiry: Expiry) -> io::Result<OpResult> {
        let Some(v) = self.live(key)? else {
            return Ok(OpResult::Nil);
        };
        let reply = OpResult::Bulk(v.payload.clone());
        match expiry {
            Expiry::Keep => {}
            Expiry::Clear => {
                if v.expires_at_ms.is_some() {
                    self.put(key, v.payload, None);
                }
            }
            _ => match self.resolve(expiry, None) {
                Some(at) if at <= self.now_ms => self.remove(key),
                at => self.put(key, v.payload, at),
            },
        }
        Ok(reply)
    }

    pub(super) fn append(&mut self, key: &[u8], value: &[u8], max: u64) -> io::Result<OpResult> {
        let (mut payload, expires) = match self.live(key)? {
            Some(v) => (v.payload, v.expires_at_ms),
            None => (Vec::new(), None),
        };
        if (payload.len() + value.len()) as u64 > max {
            return Ok(OpResult::err(TOO_LARGE));
        }
        payload.extend_from_slice(value);
        let len = payload.len() as i64;
        self.put(key, payload, expires);
        Ok(OpResult::Int(len))
    }

    pub(super) fn strlen(&mut self, key: &[u8]) -> io::Result<OpResult> {
        Ok(OpResult::Int(
            self.live(key)?.map_or(0, |v| v.payload.len() as i64),
        ))
    }

    pub(super) fn incr_by(&mut self, key: &[u8], by: i64) -> io::Result<OpResult> {
        let old = self.live(key)?;
        let current = match &old {
            None => 0,
            Some(v) => match parse_redis_int(&v.payload) {
                Some(n) => n,
                None => return Ok(OpResult::err(NOT_AN_INTEGER)),
            },
        };
        let Some(next) = current.checked_add(by) else {
            return Ok(OpResult::err("increment or decrement would overflow"));
        };
        self.put(
            key,
            next.to_string().into_bytes(),
            old.and_then(|v| v.expires_at_ms),
        );
        Ok(OpResult::Int(next))
    }

    pub(super) fn incr_by_float(&mut self, key: &[u8], by: f64) -> io::Result<OpResult> {
        let old = self.live(key)?;
        let current = match &old {
            None => 0.0,
            Some(v) => match parse_redis_float(&v.payload) {
                Some(n) => n,
                None => return Ok(OpResult::err("value is not a valid float")),
            },
        };
        let next = current + by;
        if !next.is_finite() {
            return Ok(OpResult::err("increment would produce NaN or Infinity"));
        }
        let text = format_float(next).into_bytes();
        self.put(key, text.clone(), old.and_then(|v| v.expires_at_ms));
        Ok(OpResult::Bulk(text))
    }

    pub(super) fn getrange(&mut self, key: &[u8], start: i64, end: i64) -> io::Result<OpResult> {
        let value = self.live(key)?.map(|v| v.payload).unwrap_or_default();
        let len = value.len() as i64;
        if start < 0 && end < 0 && start > end {
            return Ok(OpResult::Bulk(Vec::new()));
        }
        let start = if start < 0 { len + start } else { start }.max(0);
        let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
        if start > end || len == 0 {
            return Ok(OpResult::Bulk(Vec::new()));
        }
        Ok(OpResult::Bulk(
            value[start as usize..=end as usize].to_vec(),
        ))
    }

    pub(super) fn setrange(
        &mut self,
        key: &[u8],
        offset: i64,
        value: &[u8],
        max: u64,
    ) -> io::Result<OpResult> {
        if offset < 0 {
            return Ok(OpResult::err("offset is out of range"));
        }
        let old = self.live(key)?;
        if value.is_empty() {
            return Ok(OpResult::Int(old.map_or(0, |v| v.payload.len() as i64)));
        }
        let offset = offset as u64;
        if offset.saturating_add(value.len() as u64) > max {
            return Ok(OpResult::err(TOO_LARGE));
        }
        let (mut payload, expires) = old
            .map(|v| (v.payload, v.expires_at_ms))
            .unwrap_or_default();
        let end = offset as usize + value.len();
        if payload.len() < end {
            payload.resize(end, 0);
        }
        payload[offset as usize..end].copy_from_slice(value);
        let len = payload.len() as i64;
        self.put(key, payload, expires);
        Ok(OpResult::Int(len))
    }

    pub(super) fn mset(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) -> io::Result<OpResult> {
        for (key, value) in pairs {
            self.put(key, value.clone(), None);
        }
        Ok(OpResult::Ok)
    }

    pub(super) fn msetnx(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) -> io::Result<OpResult> {
        for (key, _) in pairs {
            if self.live(key)?.is_some() {
                return Ok(OpResult::Int(0));
            }
        }
        self.mset(pairs)?;
        Ok(OpResult::Int(1))
    }

    pub(super) fn lcs(&mut self, a: &[u8], b: &[u8], options: LcsOptions) -> io::Result<OpResult> {
        let a = self.live(a)?.map(|v| v.payload).unwrap_or_default();
        let b = self.live(b)?.map(|v| v.payload).unwrap_or_default();
        Ok(lcs(&a, &b, options))
    }
}

/// Longest common subsequence with the reply shapes of Redis's `LCS`: the string,
/// its length (`LEN`), or the matching ranges walked from the end (`IDX`).
fn lcs(a: &[u8], b: &[u8], options: LcsOptions) -> OpResult {
    let (alen, blen) = (a.len(), b.len());
    let width = blen + 1;
    let mut table = vec![0u32; (alen + 1) * width];
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let total = table[alen * width + blen] as usize;
    if options.len && !options.idx {
        return OpResult::Int(total as i64);
    }
    let mut result = vec![0u8; total];
    let mut matches = Vec::new();
    // Current range, as (a_start, a_end, b_start, b_end); `None` between ranges.
    let mut range: Option<(usize, usize, usize, usize)> = None;
    let (mut i, mut j, mut idx) = (alen, blen, total);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match range.as_mut() {
                None => range = Some((i - 1, i - 1, j - 1, j - 1)),
                Some(r) if r.0 == i && r.2 == j => {
                    r.0 -= 1;
                    r.2 -= 1;
                }
                Some(_) => emit = true,
            }
            if range.is_some_and(|r| r.0 == 0 || r.2 == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = range.is_some();
        }
        if emit {
            if let Some((a0, a1, b0, b1)) = range.take() {
                let len = (a1 - a0 + 1) as u64;
                if options.min_match_len == 0 || len >= options.min_match_len {
                    let mut item = vec![
                        OpResult::Array(vec![OpResult::Int(a0 as i64), OpResult::Int(a1 as i64)]),
                        OpResult::Array(vec![OpResult::Int(b0 as i64), OpResult::Int(b1 as i64)]),
                    ];
                    if options.with_match_len {
                        item.push(OpResult::Int(len as i64));
                    }
                    matches.push(OpResult::Array(item));
                }
            }
        }
    }
    if options.idx {
        return OpResult::Map(vec![
            (
                OpResult::Bulk(b"matches".to_vec()),
                OpResult::Array(matches),
            ),
            (OpResult::Bulk(b"len".to_vec()), OpResult::Int(total as i64)),
        ]);
    }
    OpResult::Bulk(result)
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
    }

    #[test]
    fn lcs_matches_redis_examples() {
        let opts = LcsOptions::default();
        assert_eq!(
            lcs(b"ohmytext", b"mynewtext", opts),
            OpResult::Bulk(b"mytext".to_vec())
        );
        let len = LcsOptions { len: true, ..opts };
        assert_eq!(lcs(b"ohmytext", b"mynewtext", len), OpResult::Int(6));
        let idx = LcsOptions {
            idx: true,
            min_match_len: 4,
            with_match_len: true,
            ..opts
        };
        let expected = OpResult::Map(vec![
            (
                OpResult::Bulk(b"matches".to_vec()),
                OpResult::Array(vec![OpResult::Array(vec![
                    OpResult::Array(vec![OpResult::Int(4), OpResult::Int(7)]),
                    OpResult::Array(vec![OpResult::Int(5), OpResult::Int(8)]),
                    OpResult::Int(4),
                ])]),
            ),
            (OpResult::Bulk(b"len".to_vec()), OpResult::Int(6)),
        ]);
        assert_eq!(lcs(b"ohmytext", b"mynewtext", idx), expected);
    }
}

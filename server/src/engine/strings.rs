//! String commands, with Redis 7.0's replies and error texts.

use super::collection::checked;
use super::Engine;
use crate::value::{StoredValue, HEADER_LEN, TYPE_STRING};
use bytes::Bytes;
use std::io;
use tessera_proto::args::TOO_LARGE;
use tessera_proto::commands::expiry::Expiry;
use tessera_proto::commands::strings::{
    Append, GetEx, GetRange, Lcs, LcsOptions, Set, SetCond, SetRange, SetReply,
};
use tessera_proto::number::{format_float, parse_redis_float, parse_redis_int, NOT_AN_INTEGER};
use tessera_proto::reply::Reply;

/// Pairs of `MSET`.
type Pairs = [(Bytes, Bytes)];

/// `GET`'s reply for `stored`, its key's stored bytes as they are now, read without an
/// engine (a batch of nothing but GETs, through the point-read cache): the same reply
/// as [`Engine::get`]'s, with the payload shared with `stored`, not copied.
pub fn get_stored(stored: Option<Bytes>, now_ms: u64) -> Reply {
    let Some(stored) = stored.filter(|s| s.len() >= HEADER_LEN) else {
        return Reply::Nil;
    };
    if StoredValue::is_expired_raw(&stored, now_ms) {
        Reply::Nil
    } else if stored[0] != TYPE_STRING {
        super::wrongtype()
    } else {
        Reply::Bulk(stored.slice(HEADER_LEN..))
    }
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

    pub(crate) fn get(&mut self, key: &[u8]) -> io::Result<Reply> {
        let value = checked!(self.live_string(key)?);
        Ok(value.map_or(Reply::Nil, |v| Reply::bulk(v.payload)))
    }

    pub(super) fn set(&mut self, op: &Set) -> io::Result<Reply> {
        let (done, not_done) = match op.reply {
            SetReply::Ok => (Reply::Ok, Reply::Nil),
            SetReply::Flag => (Reply::Int(1), Reply::Int(0)),
        };
        if matches!(op.cond, SetCond::Always) && !op.get && op.expiry != Expiry::Keep {
            // Nothing here depends on the old value: no read.
            let expires = self.resolve(op.expiry, None);
            self.put_blind(&op.key, op.value.to_vec(), expires);
            return Ok(done);
        }
        let old = self.live_ref(&op.key)?;
        if op.get && old.is_some_and(|v| v.kind != TYPE_STRING) {
            return Ok(super::wrongtype());
        }
        let previous = op
            .get
            .then(|| old.map_or(Reply::Nil, |v| Reply::bulk(v.payload.clone())));
        let (exists, old_expiry) = (old.is_some(), old.and_then(|v| v.expires_at_ms));
        let blocked = match op.cond {
            SetCond::Always => false,
            SetCond::IfAbsent => exists,
            SetCond::IfPresent => !exists,
        };
        if blocked {
            return Ok(previous.unwrap_or(not_done));
        }
        let expires = self.resolve(op.expiry, old_expiry);
        self.put(&op.key, op.value.to_vec(), expires);
        Ok(previous.unwrap_or(done))
    }

    pub(super) fn getdel(&mut self, key: &[u8]) -> io::Result<Reply> {
        let Some(v) = checked!(self.live_string(key)?) else {
            return Ok(Reply::Nil);
        };
        self.remove(key);
        Ok(Reply::bulk(v.payload))
    }

    pub(super) fn getex(&mut self, op: &GetEx) -> io::Result<Reply> {
        let (key, expiry) = (&op.key, op.expiry);
        let Some(v) = checked!(self.live_string(key)?) else {
            return Ok(Reply::Nil);
        };
        let reply = Reply::bulk(v.payload.clone());
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

    pub(super) fn append(&mut self, op: &Append) -> io::Result<Reply> {
        let (key, value, max) = (&op.key, &op.value, op.max_len);
        let (mut payload, expires) = match checked!(self.live_string(key)?) {
            Some(v) => (v.payload, v.expires_at_ms),
            None => (Vec::new(), None),
        };
        if (payload.len() + value.len()) as u64 > max {
            return Ok(Reply::err(TOO_LARGE));
        }
        payload.extend_from_slice(value);
        let len = payload.len() as i64;
        self.put(key, payload, expires);
        Ok(Reply::Int(len))
    }

    pub(super) fn strlen(&mut self, key: &[u8]) -> io::Result<Reply> {
        Ok(Reply::Int(
            checked!(self.live_string(key)?).map_or(0, |v| v.payload.len() as i64),
        ))
    }

    pub(super) fn incr_by(&mut self, key: &[u8], by: i64) -> io::Result<Reply> {
        let old = checked!(self.live_string(key)?);
        let current = match &old {
            None => 0,
            Some(v) => match parse_redis_int(&v.payload) {
                Some(n) => n,
                None => return Ok(Reply::err(NOT_AN_INTEGER)),
            },
        };
        let Some(next) = current.checked_add(by) else {
            return Ok(Reply::err("increment or decrement would overflow"));
        };
        self.put(
            key,
            next.to_string().into_bytes(),
            old.and_then(|v| v.expires_at_ms),
        );
        Ok(Reply::Int(next))
    }

    pub(super) fn incr_by_float(&mut self, key: &[u8], by: f64) -> io::Result<Reply> {
        let old = checked!(self.live_string(key)?);
        let current = match &old {
            None => 0.0,
            Some(v) => match parse_redis_float(&v.payload) {
                Some(n) => n,
                None => return Ok(Reply::err("value is not a valid float")),
            },
        };
        let next = current + by;
        if !next.is_finite() {
            return Ok(Reply::err("increment would produce NaN or Infinity"));
        }
        let text = format_float(next).into_bytes();
        self.put(key, text.clone(), old.and_then(|v| v.expires_at_ms));
        Ok(Reply::bulk(text))
    }

    pub(super) fn getrange(&mut self, op: &GetRange) -> io::Result<Reply> {
        let (key, start, end) = (&op.key, op.start, op.end);
        let value = checked!(self.live_string(key)?)
            .map(|v| v.payload)
            .unwrap_or_default();
        let len = value.len() as i64;
        if start < 0 && end < 0 && start > end {
            return Ok(Reply::bulk(Vec::new()));
        }
        let start = if start < 0 { len + start } else { start }.max(0);
        let end = if end < 0 { len + end } else { end }.max(0).min(len - 1);
        if start > end || len == 0 {
            return Ok(Reply::bulk(Vec::new()));
        }
        Ok(Reply::bulk(value[start as usize..=end as usize].to_vec()))
    }

    pub(super) fn setrange(&mut self, op: &SetRange) -> io::Result<Reply> {
        let (key, offset, value, max) = (&op.key, op.offset, &op.value, op.max_len);
        if offset < 0 {
            return Ok(Reply::err("offset is out of range"));
        }
        let old = checked!(self.live_string(key)?);
        if value.is_empty() {
            return Ok(Reply::Int(old.map_or(0, |v| v.payload.len() as i64)));
        }
        let offset = offset as u64;
        if offset.saturating_add(value.len() as u64) > max {
            return Ok(Reply::err(TOO_LARGE));
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
        Ok(Reply::Int(len))
    }

    pub(super) fn mget(&mut self, keys: &[Bytes]) -> io::Result<Reply> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            let value = self.live_ref(key)?.filter(|v| v.kind == TYPE_STRING);
            values.push(value.map_or(Reply::Nil, |v| Reply::bulk(v.payload.clone())));
        }
        Ok(Reply::Array(values))
    }

    pub(super) fn mset(&mut self, pairs: &Pairs) -> io::Result<Reply> {
        for (key, value) in pairs {
            self.put_blind(key, value.to_vec(), None);
        }
        Ok(Reply::Ok)
    }

    pub(super) fn msetnx(&mut self, pairs: &Pairs) -> io::Result<Reply> {
        for (key, _) in pairs {
            if self.live_ref(key)?.is_some() {
                return Ok(Reply::Int(0));
            }
        }
        self.mset(pairs)?;
        Ok(Reply::Int(1))
    }

    pub(super) fn lcs(&mut self, op: &Lcs) -> io::Result<Reply> {
        let (a, b) = (self.live(&op.a)?, self.live(&op.b)?);
        if [&a, &b]
            .iter()
            .any(|v| v.as_ref().is_some_and(|v| v.kind != TYPE_STRING))
        {
            return Ok(Reply::err("The specified keys must contain string values"));
        }
        let a = a.map(|v| v.payload).unwrap_or_default();
        let b = b.map(|v| v.payload).unwrap_or_default();
        Ok(lcs(&a, &b, op.options))
    }
}

/// Longest common subsequence with the reply shapes of Redis's `LCS`: the string,
/// its length (`LEN`), or the matching ranges walked from the end (`IDX`).
fn lcs(a: &[u8], b: &[u8], options: LcsOptions) -> Reply {
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
        return Reply::Int(total as i64);
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
                        Reply::Array(vec![Reply::Int(a0 as i64), Reply::Int(a1 as i64)]),
                        Reply::Array(vec![Reply::Int(b0 as i64), Reply::Int(b1 as i64)]),
                    ];
                    if options.with_match_len {
                        item.push(Reply::Int(len as i64));
                    }
                    matches.push(Reply::Array(item));
                }
            }
        }
    }
    if options.idx {
        return Reply::Map(vec![
            (Reply::bulk(&b"matches"[..]), Reply::Array(matches)),
            (Reply::bulk(&b"len"[..]), Reply::Int(total as i64)),
        ]);
    }
    Reply::bulk(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcs_matches_redis_examples() {
        let opts = LcsOptions::default();
        assert_eq!(
            lcs(b"ohmytext", b"mynewtext", opts),
            Reply::bulk(&b"mytext"[..])
        );
        let len = LcsOptions { len: true, ..opts };
        assert_eq!(lcs(b"ohmytext", b"mynewtext", len), Reply::Int(6));
        let idx = LcsOptions {
            idx: true,
            min_match_len: 4,
            with_match_len: true,
            ..opts
        };
        let expected = Reply::Map(vec![
            (
                Reply::bulk(&b"matches"[..]),
                Reply::Array(vec![Reply::Array(vec![
                    Reply::Array(vec![Reply::Int(4), Reply::Int(7)]),
                    Reply::Array(vec![Reply::Int(5), Reply::Int(8)]),
                    Reply::Int(4),
                ])]),
            ),
            (Reply::bulk(&b"len"[..]), Reply::Int(6)),
        ]);
        assert_eq!(lcs(b"ohmytext", b"mynewtext", idx), expected);
    }
}

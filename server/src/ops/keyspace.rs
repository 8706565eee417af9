//! Keyspace and expiry commands, with Redis 7.0's replies and error texts.

use super::engine::Engine;
use super::{ExpireCond, OpResult, TtlForm};
use std::io;

impl Engine<'_> {
    pub(super) fn del(&mut self, keys: &[Vec<u8>]) -> io::Result<OpResult> {
        let mut removed = 0;
        for key in keys {
            if self.live(key)?.is_some() {
                removed += 1;
                self.remove(key);
            } else if self.load(key)?.is_some() {
                // Expired but not swept yet: drop it too.
                self.remove(key);
            }
        }
        Ok(OpResult::Int(removed))
    }

    pub(super) fn exists(&mut self, keys: &[Vec<u8>]) -> io::Result<OpResult> {
        let mut found = 0;
        for key in keys {
            found += i64::from(self.live(key)?.is_some());
        }
        Ok(OpResult::Int(found))
    }

    pub(super) fn type_of(&mut self, key: &[u8]) -> io::Result<OpResult> {
        let kind = if self.live(key)?.is_some() {
            "string"
        } else {
            "none"
        };
        Ok(OpResult::Status(kind.into()))
    }

    pub(super) fn rename(&mut self, from: &[u8], to: &[u8], nx: bool) -> io::Result<OpResult> {
        let Some(source) = self.live(from)? else {
            return Ok(OpResult::err("no such key"));
        };
        let done = if nx { OpResult::Int(1) } else { OpResult::Ok };
        if from == to {
            return Ok(if nx { OpResult::Int(0) } else { OpResult::Ok });
        }
        if nx && self.live(to)?.is_some() {
            return Ok(OpResult::Int(0));
        }
        self.put(to, source.payload, source.expires_at_ms);
        self.remove(from);
        Ok(done)
    }

    pub(super) fn copy(&mut self, from: &[u8], to: &[u8], replace: bool) -> io::Result<OpResult> {
        if from == to {
            return Ok(OpResult::err("source and destination objects are the same"));
        }
        let Some(source) = self.live(from)? else {
            return Ok(OpResult::Int(0));
        };
        if !replace && self.live(to)?.is_some() {
            return Ok(OpResult::Int(0));
        }
        self.put(to, source.payload, source.expires_at_ms);
        Ok(OpResult::Int(1))
    }

    pub(super) fn expire(
        &mut self,
        key: &[u8],
        at: i64,
        relative: bool,
        cond: ExpireCond,
    ) -> io::Result<OpResult> {
        let when = if relative {
            i128::from(self.now_ms) + i128::from(at)
        } else {
            i128::from(at)
        };
        let Some(value) = self.live(key)? else {
            return Ok(OpResult::Int(0));
        };
        let current = value.expires_at_ms.map(i128::from);
        let refused = (cond.nx && current.is_some())
            || (cond.xx && current.is_none())
            || (cond.gt && current.is_none_or(|c| when <= c))
            || (cond.lt && current.is_some_and(|c| when >= c));
        if refused {
            return Ok(OpResult::Int(0));
        }
        if when <= i128::from(self.now_ms) {
            self.remove(key);
        } else {
            self.put(
                key,
                value.payload,
                Some(when.min(i128::from(i64::MAX)) as u64),
            );
        }
        Ok(OpResult::Int(1))
    }

    pub(super) fn persist(&mut self, key: &[u8]) -> io::Result<OpResult> {
        match self.live(key)? {
            Some(v) if v.expires_at_ms.is_some() => {
                self.put(key, v.payload, None);
                Ok(OpResult::Int(1))
            }
            _ => Ok(OpResult::Int(0)),
        }
    }

    pub(super) fn ttl(&mut self, key: &[u8], form: TtlForm) -> io::Result<OpResult> {
        let Some(value) = self.live(key)? else {
            return Ok(OpResult::Int(-2));
        };
        let Some(at) = value.expires_at_ms else {
            return Ok(OpResult::Int(-1));
        };
        let ms = if form.absolute {
            at as i64
        } else {
            (at as i64 - self.now_ms as i64).max(0)
        };
        Ok(OpResult::Int(if form.millis {
            ms
        } else {
            (ms + 500) / 1000
        }))
    }
}

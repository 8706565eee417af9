//! Keyspace and expiry commands, with Redis 7.0's replies and error texts.

use super::Engine;
use crate::value::type_name;
use bytes::Bytes;
use std::io;
use tessera_proto::commands::keyspace::{Copy, Expire, Rename, Ttl};
use tessera_proto::reply::Reply;

impl Engine<'_> {
    pub(super) fn del(&mut self, keys: &[Bytes]) -> io::Result<Reply> {
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
        Ok(Reply::Int(removed))
    }

    pub(super) fn exists(&mut self, keys: &[Bytes]) -> io::Result<Reply> {
        let mut found = 0;
        for key in keys {
            found += i64::from(self.live(key)?.is_some());
        }
        Ok(Reply::Int(found))
    }

    pub(super) fn type_of(&mut self, key: &[u8]) -> io::Result<Reply> {
        let kind = self.live_ref(key)?.map_or("none", |v| type_name(v.kind));
        Ok(Reply::Status(kind.into()))
    }

    pub(super) fn rename(&mut self, op: &Rename) -> io::Result<Reply> {
        let (from, to, nx) = (&op.from, &op.to, op.nx);
        let Some(source) = self.live(from)? else {
            return Ok(Reply::err("no such key"));
        };
        let done = if nx { Reply::Int(1) } else { Reply::Ok };
        if from == to {
            return Ok(if nx { Reply::Int(0) } else { Reply::Ok });
        }
        if nx && self.live(to)?.is_some() {
            return Ok(Reply::Int(0));
        }
        let expiry = source.expires_at_ms;
        self.copy_value(from, source, to, expiry)?;
        self.remove(from);
        Ok(done)
    }

    pub(super) fn copy(&mut self, op: &Copy) -> io::Result<Reply> {
        let (from, to, replace) = (&op.from, &op.to, op.replace);
        if from == to {
            return Ok(Reply::err("source and destination objects are the same"));
        }
        let Some(source) = self.live(from)? else {
            return Ok(Reply::Int(0));
        };
        if !replace && self.live(to)?.is_some() {
            return Ok(Reply::Int(0));
        }
        let expiry = source.expires_at_ms;
        self.copy_value(from, source, to, expiry)?;
        Ok(Reply::Int(1))
    }

    pub(super) fn expire(&mut self, op: &Expire) -> io::Result<Reply> {
        let (key, at, relative, cond) = (&op.key, op.at, op.relative, op.cond);
        let when = if relative {
            i128::from(self.now_ms) + i128::from(at)
        } else {
            i128::from(at)
        };
        let Some(value) = self.live(key)? else {
            return Ok(Reply::Int(0));
        };
        let current = value.expires_at_ms.map(i128::from);
        let refused = (cond.nx && current.is_some())
            || (cond.xx && current.is_none())
            || (cond.gt && current.is_none_or(|c| when <= c))
            || (cond.lt && current.is_some_and(|c| when >= c));
        if refused {
            return Ok(Reply::Int(0));
        }
        if when <= i128::from(self.now_ms) {
            self.remove(key);
        } else {
            let at = when.min(i128::from(i64::MAX)) as u64;
            self.reexpire(key, value, Some(at));
        }
        Ok(Reply::Int(1))
    }

    pub(super) fn persist(&mut self, key: &[u8]) -> io::Result<Reply> {
        match self.live(key)? {
            Some(v) if v.expires_at_ms.is_some() => {
                self.reexpire(key, v, None);
                Ok(Reply::Int(1))
            }
            _ => Ok(Reply::Int(0)),
        }
    }

    pub(super) fn ttl(&mut self, op: &Ttl) -> io::Result<Reply> {
        let (key, form) = (&op.key, op.form);
        let Some(value) = self.live(key)? else {
            return Ok(Reply::Int(-2));
        };
        let Some(at) = value.expires_at_ms else {
            return Ok(Reply::Int(-1));
        };
        let ms = if form.absolute {
            at as i64
        } else {
            (at as i64 - self.now_ms as i64).max(0)
        };
        Ok(Reply::Int(if form.millis { ms } else { (ms + 500) / 1000 }))
    }
}

//! Keyspace and expiry commands, with Redis 7.0's replies and error texts.

use super::Engine;
use crate::value::{type_name, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING};
use bytes::Bytes;
use std::io;
use tessera_proto::commands::keyspace::{Copy, Expire, Object, ObjectInfo, Rename, Ttl};
use tessera_proto::number::parse_redis_int;
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

/// Integers Redis 7.0 shares between keys (and reports a refcount of `i32::MAX` for).
const SHARED_INTEGERS: i64 = 10_000;

impl Engine<'_> {
    /// `OBJECT`: what Redis 7.0 would answer for the value as it is now.
    pub(super) fn object(&mut self, op: &Object) -> io::Result<Reply> {
        let Some(value) = self.live(&op.key)? else {
            return Ok(Reply::Nil);
        };
        let small_int = || {
            value.kind == TYPE_STRING
                && value.payload.len() <= 20
                && parse_redis_int(&value.payload).is_some()
        };
        Ok(match op.what {
            ObjectInfo::Freq => Reply::err(
                "An LFU maxmemory policy is not selected, access frequency not tracked. \
                 Please note that when switching between policies at runtime LRU and LFU \
                 data will take some time to adjust.",
            ),
            ObjectInfo::IdleTime => Reply::Int(0),
            ObjectInfo::RefCount => {
                let shared = small_int()
                    && parse_redis_int(&value.payload)
                        .is_some_and(|n| (0..SHARED_INTEGERS).contains(&n));
                Reply::Int(if shared { i64::from(i32::MAX) } else { 1 })
            }
            ObjectInfo::Encoding => {
                let encoding = match value.kind {
                    TYPE_STRING if small_int() => "int",
                    TYPE_STRING if value.payload.len() <= 44 => "embstr",
                    TYPE_STRING => "raw",
                    TYPE_LIST => "quicklist",
                    kind => self.collection_encoding(&op.key, kind)?,
                };
                Reply::bulk(encoding)
            }
        })
    }

    /// The encoding Redis 7.0 would give a set, hash or sorted set of these members
    /// (its default `*-max-*` thresholds).
    fn collection_encoding(&mut self, key: &[u8], kind: u8) -> io::Result<&'static str> {
        let Ok(Some(meta)) = self.collection(key, kind)? else {
            return Ok("unknown");
        };
        let (limit, compact, big) = match kind {
            TYPE_SET => (512, "intset", "hashtable"),
            TYPE_HASH => (128, "listpack", "hashtable"),
            _ => (128, "listpack", "skiplist"),
        };
        if meta.len > limit {
            return Ok(big);
        }
        let members = self.members_of(key, &meta)?;
        let fits = members.iter().all(|(member, value)| match kind {
            TYPE_SET => parse_redis_int(member).is_some(),
            TYPE_HASH => member.len() <= 64 && value.len() <= 64,
            _ => member.len() <= 64,
        });
        Ok(if fits { compact } else { big })
    }
}

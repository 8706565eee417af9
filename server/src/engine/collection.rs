//! What every collection type shares: its metadata row (type, version, member count,
//! expiry) and its member rows ([`crate::layout`]), read and written through the
//! engine's overlay.

use super::{wrongtype, Engine};
use crate::layout;
use crate::value::{Seq, StoredValue, TYPE_STRING};
use std::io;
use tessera_proto::reply::Reply;

/// A collection's metadata: the payload of its key's row is version (16) ++ member
/// count (8).
#[derive(Clone, Debug)]
pub(crate) struct Meta {
    /// The type tag.
    pub kind: u8,
    /// The version its member rows carry.
    pub version: Seq,
    /// How many members it has.
    pub len: u64,
    /// Its expiry.
    pub expires_at_ms: Option<u64>,
}

impl Meta {
    fn decode(value: &StoredValue) -> Option<Meta> {
        let version = value.payload.get(..16)?.try_into().ok()?;
        let len = value.payload.get(16..24)?.try_into().ok()?;
        Some(Meta {
            kind: value.kind,
            version: Seq(u128::from_be_bytes(version)),
            len: u64::from_be_bytes(len),
            expires_at_ms: value.expires_at_ms,
        })
    }

    fn encode(&self) -> Vec<u8> {
        [&self.version.to_bytes()[..], &self.len.to_be_bytes()].concat()
    }

    /// The prefix of its member rows when stored at `key`.
    pub fn prefix(&self, key: &[u8]) -> Vec<u8> {
        layout::prefix(key, self.version)
    }
}

/// A collection looked up by a command of one type: `Ok(None)` if the key is absent,
/// `Err` with the reply if it holds another type.
pub(crate) type Typed = Result<Option<Meta>, Reply>;

/// The `Ok` of a type check, or the command's reply is its error.
macro_rules! checked {
    ($lookup:expr) => {
        match $lookup {
            Ok(found) => found,
            Err(reply) => return Ok(reply),
        }
    };
}
pub(crate) use checked;

/// Whether `stored` (a key's value) is a collection whose rows carry `version`.
pub fn refers_to(stored: Option<&StoredValue>, version: Seq) -> bool {
    stored
        .filter(|v| v.kind != TYPE_STRING)
        .and_then(Meta::decode)
        .is_some_and(|m| m.version == version)
}

impl Engine<'_> {
    /// The live collection of type `kind` at `key`.
    pub(crate) fn collection(&mut self, key: &[u8], kind: u8) -> io::Result<Typed> {
        Ok(match self.live_ref(key)? {
            None => Ok(None),
            Some(v) if v.kind == kind => Ok(Meta::decode(v)),
            Some(_) => Err(wrongtype()),
        })
    }

    /// The live collection of type `kind` at `key`, or a new empty one (not stored
    /// until [`Engine::save_collection`]).
    pub(crate) fn collection_or_new(&mut self, key: &[u8], kind: u8) -> io::Result<Typed> {
        Ok(match self.collection(key, kind)? {
            Ok(Some(meta)) => Ok(Some(meta)),
            Ok(None) => Ok(Some(Meta {
                kind,
                version: self.new_version(),
                len: 0,
                expires_at_ms: None,
            })),
            Err(reply) => Err(reply),
        })
    }

    /// Stores `meta` at `key`; an empty collection is deleted, as Redis does.
    pub(crate) fn save_collection(&mut self, key: &[u8], meta: &Meta) {
        if meta.len == 0 {
            return self.remove(key);
        }
        let value = StoredValue {
            kind: meta.kind,
            seq: self.seq,
            expires_at_ms: meta.expires_at_ms,
            payload: meta.encode(),
        };
        self.write_value(key, value);
    }

    /// The value of member `member` of the collection at `key`.
    pub(crate) fn member_of(
        &mut self,
        key: &[u8],
        meta: &Meta,
        member: &[u8],
    ) -> io::Result<Option<Vec<u8>>> {
        self.member(&layout::row(&meta.prefix(key), member))
    }

    /// Sets (or with `None` deletes) member `member`, keeping the count; answers
    /// whether it existed.
    pub(crate) fn set_member_of(
        &mut self,
        key: &[u8],
        meta: &mut Meta,
        member: &[u8],
        value: Option<Vec<u8>>,
    ) -> io::Result<bool> {
        let adds = value.is_some();
        let old = self.set_member(&layout::row(&meta.prefix(key), member), value)?;
        match (old.is_some(), adds) {
            (false, true) => meta.len += 1,
            (true, false) => meta.len = meta.len.saturating_sub(1),
            _ => {}
        }
        Ok(old.is_some())
    }

    /// Every member of the collection at `key`, in member byte order.
    pub(crate) fn members_of(
        &mut self,
        key: &[u8],
        meta: &Meta,
    ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.member_rows(&meta.prefix(key))
    }

    /// Copies the value at `from` to `to` with `expires_at_ms`: a string as it is, a
    /// collection with every member under a new version.
    pub(crate) fn copy_value(
        &mut self,
        from: &[u8],
        value: StoredValue,
        to: &[u8],
        expires_at_ms: Option<u64>,
    ) -> io::Result<()> {
        let Some(mut meta) = Meta::decode(&value).filter(|_| value.kind != TYPE_STRING) else {
            self.put(to, value.payload, expires_at_ms);
            return Ok(());
        };
        let members = self.members_of(from, &meta)?;
        meta.version = self.new_version();
        meta.expires_at_ms = expires_at_ms;
        let prefix = meta.prefix(to);
        for (member, v) in members {
            self.set_member(&layout::row(&prefix, &member), Some(v))?;
        }
        self.save_collection(to, &meta);
        Ok(())
    }

    /// Deletes up to `limit` rows of each collection whose rows start with one of
    /// `prefixes`, unless its key still refers to it (the collector). Answers how many.
    ///
    /// # Errors
    /// Storage errors.
    pub fn collect(&mut self, prefixes: &[bytes::Bytes], limit: usize) -> io::Result<Reply> {
        let mut dropped = 0;
        for prefix in prefixes {
            let Some((key, version, len)) = layout::split(prefix) else {
                continue;
            };
            if len != prefix.len() {
                continue;
            }
            let referred = refers_to(self.load(&key)?.as_ref(), version);
            if !referred {
                dropped += self.drop_rows(prefix, limit)?;
            }
        }
        Ok(Reply::Int(dropped as i64))
    }
}

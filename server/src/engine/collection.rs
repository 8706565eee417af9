//! What every collection type shares: its metadata row (type, version, member count,
//! expiry) and its member rows ([`crate::layout`]), read and written through the
//! engine's overlay.

use super::{wrongtype, Engine};
use crate::layout;
use crate::value::{Seq, StoredValue, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET};
use std::io;
use tessera_common::glob;
use tessera_proto::commands::scan_members::ScanMembers;
use tessera_proto::reply::Reply;

/// Most members one `HSCAN`/`SSCAN` call returns (Redis treats `COUNT` as a hint too).
const SCAN_MAX: usize = 10_000;

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
    /// A list's first position (its elements are at `head .. head + len`); for a
    /// sorted set, a floor of its score-index rows' score keys (no live row is below
    /// it), raised by pops so reads from the front seek past the rows they deleted
    /// instead of stepping over their tombstones.
    pub head: u64,
    /// A set's or hash's members deleted since its rows got their version: once they
    /// outnumber the live ones, [`Engine::rewrite_if_sparse`] moves it to a new version.
    pub deleted: u64,
}

/// Fewest deleted members before a sparse set or hash is rewritten.
const SPARSE_MIN: u64 = 1_024;

/// The position a new list starts at: room to push both ways.
pub(crate) const LIST_MIDDLE: u64 = 1 << 63;

impl Meta {
    fn decode(value: &StoredValue) -> Option<Meta> {
        let version = value.payload.get(..16)?.try_into().ok()?;
        let len = value.payload.get(16..24)?.try_into().ok()?;
        let extra = match value.payload.get(24..32) {
            Some(extra) => Some(u64::from_be_bytes(extra.try_into().ok()?)),
            None => None,
        };
        let keeps_head = value.kind == TYPE_LIST || value.kind == TYPE_ZSET;
        let head = match extra {
            Some(head) if keeps_head => head,
            _ => Meta::first_head(value.kind),
        };
        Some(Meta {
            kind: value.kind,
            version: Seq(u128::from_be_bytes(version)),
            len: u64::from_be_bytes(len),
            expires_at_ms: value.expires_at_ms,
            head,
            deleted: extra.filter(|_| !keeps_head).unwrap_or(0),
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = [&self.version.to_bytes()[..], &self.len.to_be_bytes()].concat();
        if self.kind == TYPE_LIST || self.kind == TYPE_ZSET {
            out.extend_from_slice(&self.head.to_be_bytes());
        } else if self.deleted > 0 {
            out.extend_from_slice(&self.deleted.to_be_bytes());
        }
        out
    }

    /// A new, empty collection of type `kind` with `version`.
    pub fn new(kind: u8, version: Seq) -> Meta {
        Meta {
            kind,
            version,
            len: 0,
            expires_at_ms: None,
            head: Meta::first_head(kind),
            deleted: 0,
        }
    }

    /// A new collection's `head`: the middle for a list, the lowest floor for a
    /// sorted set.
    fn first_head(kind: u8) -> u64 {
        if kind == TYPE_ZSET {
            0
        } else {
            LIST_MIDDLE
        }
    }

    /// The prefix of its member rows when stored at `key` (a sorted set's score
    /// index is beside them, [`Meta::score_prefix`]).
    pub fn prefix(&self, key: &[u8]) -> Vec<u8> {
        let mut prefix = layout::prefix(key, self.version);
        if self.kind == TYPE_ZSET {
            prefix.push(super::zindex::ZSET_MEMBERS);
        }
        prefix
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
            Ok(None) => Ok(Some(Meta::new(kind, self.new_version()))),
            Err(reply) => Err(reply),
        })
    }

    /// Removes `members` from the collection of type `kind` at `key` (deleting it once
    /// empty); answers how many were there (`HDEL`, `SREM`).
    pub(super) fn remove_members(
        &mut self,
        key: &[u8],
        kind: u8,
        members: &[bytes::Bytes],
    ) -> io::Result<Reply> {
        let Some(mut meta) = checked!(self.collection(key, kind)?) else {
            return Ok(Reply::Int(0));
        };
        let mut removed = 0;
        for member in members {
            removed += i64::from(self.set_member_of(key, &mut meta, member, None)?);
        }
        if removed > 0 {
            self.rewrite_if_sparse(key, &mut meta)?;
            self.save_collection(key, &meta);
        }
        Ok(Reply::Int(removed))
    }

    /// The member count of the collection of type `kind` at `key`, 0 if absent (`HLEN`,
    /// `SCARD`, `LLEN`).
    pub(super) fn collection_len(&mut self, key: &[u8], kind: u8) -> io::Result<Reply> {
        let meta = checked!(self.collection(key, kind)?);
        Ok(Reply::Int(meta.map_or(0, |m| m.len as i64)))
    }

    /// Moves a set or hash whose deleted members outnumber its live ones (and
    /// [`SPARSE_MIN`]) to a new version: until compaction the store keeps a tombstone
    /// per deleted row, which every read of the collection's interval steps over (SPOP
    /// slowed to a crawl as a set emptied). The live members are copied under the new
    /// version once, O(1) amortized per deletion; the collector deletes the old rows,
    /// which no read visits any more. Deterministic: the count is replicated state.
    pub(crate) fn rewrite_if_sparse(&mut self, key: &[u8], meta: &mut Meta) -> io::Result<()> {
        let sparse = meta.deleted > meta.len.max(SPARSE_MIN);
        if !(meta.kind == TYPE_SET || meta.kind == TYPE_HASH) || meta.len == 0 || !sparse {
            return Ok(());
        }
        let members = self.members_of(key, meta)?;
        meta.version = self.new_version();
        meta.deleted = 0;
        let prefix = meta.prefix(key);
        for (member, value) in members {
            self.set_member(&layout::row(&prefix, &member), Some(value))?;
        }
        Ok(())
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
            (true, false) => {
                meta.len = meta.len.saturating_sub(1);
                meta.deleted += 1;
            }
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

    /// `HSCAN`, `SSCAN`: members after the cursor position, in member order.
    pub(super) fn scan_members(&mut self, op: &ScanMembers) -> io::Result<Reply> {
        let meta = checked!(self.collection(&op.key, op.kind)?);
        let members = match &meta {
            Some(meta) => self.members_of(&op.key, meta)?,
            None => Vec::new(),
        };
        // A collection that fits in one reply comes back whole whatever the cursor, as
        // Redis answers for a small one.
        let from = if members.len() <= SCAN_MAX {
            0
        } else {
            usize::try_from(op.cursor).unwrap_or(usize::MAX)
        };
        let upto = from.saturating_add(SCAN_MAX.max(op.count as usize));
        let mut items = Vec::new();
        for (member, value) in members.iter().take(upto).skip(from) {
            if op.pattern.as_ref().is_none_or(|p| glob::matches(p, member)) {
                items.push(Reply::bulk(member.clone()));
                if op.kind == TYPE_HASH {
                    items.push(Reply::bulk(value.clone()));
                }
                if op.kind == TYPE_ZSET {
                    let score = super::zindex::score_of_value(value);
                    items.push(Reply::bulk(tessera_proto::number::format_double(score)));
                }
            }
        }
        let next = if upto < members.len() { upto as u64 } else { 0 };
        Ok(Reply::Array(vec![
            Reply::bulk(next.to_string()),
            Reply::Array(items),
        ]))
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
        meta.deleted = 0;
        meta.expires_at_ms = expires_at_ms;
        let prefix = meta.prefix(to);
        for (member, v) in members {
            if meta.kind == TYPE_ZSET {
                self.index_copied_member(to, &meta, &member, &v)?;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tessera_proto::commands::hash::{HSet, HSetForm};
    use tessera_proto::commands::strings::Get;
    use tessera_proto::op::Op;

    #[test]
    fn rows_written_and_orphaned_in_one_batch_are_collected_in_it() {
        // A follower may apply the write that made a collection, the one that replaced
        // it and the leader's Collect in one batch: the rows still in the overlay must
        // go too, or the follower keeps rows its leader deleted.
        let read = |_: &[u8]| -> io::Result<Option<Vec<u8>>> { Ok(None) };
        let mut engine = Engine::new(&read, 0, Seq(1 << 40));
        let key = Bytes::from_static(b"\0\0\0\0over");
        let hset = Op::HSet(HSet {
            key: key.clone(),
            pairs: vec![(Bytes::from_static(b"a"), Bytes::from_static(b"1"))],
            form: HSetForm::Added,
        });
        assert_eq!(engine.run(&hset).unwrap(), Reply::Int(1));
        let prefix = layout::prefix(&key, Seq(1 << 40));
        engine.seq = Seq(2 << 40);
        engine.put_blind(&key, b"string".to_vec(), None);
        let collected = engine.collect(&[Bytes::from(prefix)], 10).unwrap();
        assert_eq!(collected, Reply::Int(1));
        let get = Op::Get(Get { key: key.clone() });
        assert_eq!(engine.run(&get).unwrap(), Reply::bulk(&b"string"[..]));
        let changes = engine.into_changes();
        assert!(
            changes.members.iter().all(|m| m.new.is_none()),
            "{:?}",
            changes.members
        );
    }

    #[test]
    fn a_collection_its_key_refers_to_is_not_collected() {
        let read = |_: &[u8]| -> io::Result<Option<Vec<u8>>> { Ok(None) };
        let mut engine = Engine::new(&read, 0, Seq(1 << 40));
        let key = Bytes::from_static(b"\0\0\0\0h");
        let hset = Op::HSet(HSet {
            key: key.clone(),
            pairs: vec![(Bytes::from_static(b"a"), Bytes::from_static(b"1"))],
            form: HSetForm::Added,
        });
        engine.run(&hset).unwrap();
        let prefix = layout::prefix(&key, Seq(1 << 40));
        assert_eq!(
            engine.collect(&[Bytes::from(prefix)], 10).unwrap(),
            Reply::Int(0)
        );
        assert_eq!(engine.into_changes().members.len(), 1);
    }

    /// Runs `ops` on a fresh engine (nothing stored) and answers the last reply.
    fn run_all(ops: &[Op]) -> Reply {
        let read = |_: &[u8]| -> io::Result<Option<Vec<u8>>> { Ok(None) };
        let mut engine = Engine::new(&read, 7, Seq(1 << 40));
        let mut last = Reply::Nil;
        for (i, op) in ops.iter().enumerate() {
            engine.seq = Seq((1 << 40) + ((i as u128) << 32));
            last = engine.run(op).unwrap();
        }
        last
    }

    #[test]
    fn a_large_set_pops_distinct_members_the_same_on_every_replica() {
        use tessera_proto::commands::set::{SAdd, SCard, SPop, SRandMember};
        let key = Bytes::from_static(b"\0\0\0\0big");
        let members: Vec<Bytes> = (0..3_000)
            .map(|i| Bytes::from(format!("m{i:05}")))
            .collect();
        let add = Op::SAdd(SAdd {
            key: key.clone(),
            members,
        });
        let pop = Op::SPop(SPop {
            key: key.clone(),
            count: Some(50),
        });
        let Reply::Set(popped) = run_all(&[add.clone(), pop.clone()]) else {
            panic!("SPOP answers a set");
        };
        let mut distinct = popped.clone();
        distinct.sort_by_key(|r| format!("{r:?}"));
        distinct.dedup();
        assert_eq!((popped.len(), distinct.len()), (50, 50));
        // The same entries pick the same members: every replica pops the same ones.
        assert_eq!(run_all(&[add.clone(), pop.clone()]), Reply::Set(popped));
        let card = Op::SCard(SCard { key: key.clone() });
        assert_eq!(run_all(&[add.clone(), pop, card]), Reply::Int(2_950));
        // Picks spread over the whole set (a seek to a random point alone would keep
        // hitting the first member after each gap).
        let repeats = Op::SRandMember(SRandMember {
            key: key.clone(),
            count: Some(-2_000),
        });
        let Reply::Array(mut picked) = run_all(&[add.clone(), repeats]) else {
            panic!("SRANDMEMBER with a count answers an array");
        };
        assert_eq!(picked.len(), 2_000);
        picked.sort_by_key(|r| format!("{r:?}"));
        picked.dedup();
        assert!(picked.len() > 1_000, "{} distinct of 2,000", picked.len());
        let one = Op::SPop(SPop {
            key: key.clone(),
            count: None,
        });
        assert!(matches!(run_all(&[add.clone(), one]), Reply::Bulk(_)));
        // Popping most of the set moves it to a new version (the old rows are left to
        // the collector), and it keeps exactly its live members.
        let most = Op::SPop(SPop {
            key: key.clone(),
            count: Some(2_500),
        });
        let Reply::Set(gone) = run_all(&[add.clone(), most.clone()]) else {
            panic!("SPOP answers a set");
        };
        let members = Op::SMembers(tessera_proto::commands::set::SMembers { key: key.clone() });
        let Reply::Set(left) = run_all(&[add.clone(), most, members]) else {
            panic!("SMEMBERS answers a set");
        };
        assert_eq!((gone.len(), left.len()), (2_500, 500));
        assert!(left.iter().all(|m| !gone.contains(m)));
    }
}

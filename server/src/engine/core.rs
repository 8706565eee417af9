//! The evaluator's storage side: reads keys through a caller-supplied reader, keeps
//! every change in an overlay (so later ops of the same batch see earlier ones), and
//! hands the changes back for the caller to write atomically.

use crate::value::{split_expiry_key, Seq, StoredValue, TYPE_STRING};
use std::collections::BTreeMap;
use std::io;
use tessera_common::hash::FastMap;

/// Where the engine reads stored state: the `data` keyspace (one row per key) and the
/// `members` keyspace (collections' rows, see [`crate::layout`]).
pub trait Source: Send + Sync {
    /// The stored value of a storage key.
    fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>>;
    /// The stored value of a member row.
    fn member(&self, row: &[u8]) -> io::Result<Option<Vec<u8>>>;
    /// Up to `limit` member rows with `prefix`, from `from` (inclusive) on, in order.
    fn members(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
    ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Up to `limit` member rows with `prefix`, from the last one backwards.
    fn last_members(&self, prefix: &[u8], limit: usize) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>;
}

/// A data-only source (tests): a function of the storage key, and no members.
impl<F: Fn(&[u8]) -> io::Result<Option<Vec<u8>>> + Send + Sync> Source for F {
    fn get(&self, key: &[u8]) -> io::Result<Option<Vec<u8>>> {
        self(key)
    }
    fn member(&self, _row: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(None)
    }
    fn members(&self, _: &[u8], _: &[u8], _: usize) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(Vec::new())
    }
    fn last_members(&self, _: &[u8], _: usize) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(Vec::new())
    }
}

/// What the engine reads through.
pub type Reader<'a> = dyn Source + 'a;

/// One key's net change after a batch of ops.
#[derive(Debug)]
pub struct Change {
    /// The storage key.
    pub key: Vec<u8>,
    /// Its expiry before the batch (to drop the old expiry-index entry).
    pub old_expiry: Option<u64>,
    /// Bytes it took before the batch (key and stored value; 0 if absent).
    pub old_size: usize,
    /// Written without reading what was there ([`Engine::put_blind`]): the two fields
    /// above are unknown (`None`, 0), so an old expiry-index entry may be left behind
    /// for the sweeper, and the byte count may now count the key twice.
    pub blind: bool,
    /// Its new value, or `None` if deleted.
    pub new: Option<StoredValue>,
}

/// A key looked up for a command that works on one type of value.
pub enum Found {
    /// No live value.
    Missing,
    /// A live value of the wanted type.
    Value(StoredValue),
    /// A live value of another type.
    WrongType,
}

/// A key before the batch.
#[derive(Clone, Copy)]
enum Before {
    /// It was absent (or could not be read).
    Absent,
    /// Its expiry and stored size (key and value).
    Was(Option<u64>, usize),
    /// The batch wrote it without reading it.
    Unread,
}

impl Before {
    /// `key` holding `value` before the batch.
    fn of(key: &[u8], value: Option<&StoredValue>) -> Self {
        value.map_or(Before::Absent, |v| {
            Before::Was(v.expires_at_ms, key.len() + v.encoded_len())
        })
    }
}

/// What the batch knows of a member row it touched: its size before the batch (row key
/// and value; 0 if absent) and its value now.
#[derive(Clone)]
struct MemberSlot {
    before: usize,
    now: Option<Vec<u8>>,
    dirty: bool,
}

/// One member row's net change after a batch of ops.
#[derive(Debug)]
pub struct MemberChange {
    /// The row key.
    pub row: Vec<u8>,
    /// Bytes it took before the batch (0 if absent).
    pub old_size: usize,
    /// Its new value, or `None` if deleted.
    pub new: Option<Vec<u8>>,
}

/// What the batch knows of a key it touched: the key before the batch (for the expiry
/// index and byte counts) and as the ops so far left it.
struct Slot {
    before: Before,
    now: Option<StoredValue>,
    /// Whether an op of the batch wrote it (it is then in `Engine::dirty` once).
    dirty: bool,
}

/// Evaluates ops for one group.
pub struct Engine<'a> {
    read: &'a Reader<'a>,
    /// The time ops are evaluated at (the leader's clock, from the Raft entry on writes).
    pub now_ms: u64,
    /// The sequence number given to values written by the current op.
    pub seq: Seq,
    slots: FastMap<Vec<u8>, Slot>,
    dirty: Vec<Vec<u8>>,
    stale_index: Vec<Vec<u8>>,
    /// Member rows read or written, in row order (so scans can merge them).
    members: BTreeMap<Vec<u8>, MemberSlot>,
    /// Random draws made so far (each gets its own stream).
    pub(crate) picks_drawn: u64,
    /// The last collection version handed out (several ops of a transaction share one
    /// sequence number, but each new collection needs its own version).
    last_version: Seq,
}

/// What a batch of ops changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// One net change per key, in the order keys were first changed.
    pub keys: Vec<Change>,
    /// Expiry-index entries that no longer match their key's expiry (left behind by
    /// blind writes), to delete.
    pub stale_index: Vec<Vec<u8>>,
    /// Member rows changed, in row order.
    pub members: Vec<MemberChange>,
}

impl<'a> Engine<'a> {
    /// An engine reading through `read`, at time `now_ms`.
    pub fn new(read: &'a Reader<'a>, now_ms: u64, seq: Seq) -> Self {
        Self {
            read,
            now_ms,
            seq,
            slots: FastMap::default(),
            dirty: Vec::new(),
            stale_index: Vec::new(),
            members: BTreeMap::new(),
            last_version: Seq::default(),
            picks_drawn: 0,
        }
    }

    /// The slot of `key`, read from storage the first time.
    fn slot(&mut self, key: &[u8]) -> io::Result<&mut Slot> {
        if !self.slots.contains_key(key) {
            let now = self
                .read
                .get(key)?
                .and_then(|bytes| StoredValue::decode(&bytes));
            let before = Before::of(key, now.as_ref());
            let slot = Slot {
                before,
                now,
                dirty: false,
            };
            self.slots.insert(key.to_vec(), slot);
        }
        Ok(self.slots.get_mut(key).expect("inserted above"))
    }

    /// The value of `key` as the ops so far left it, expired or not.
    pub(crate) fn load(&mut self, key: &[u8]) -> io::Result<Option<StoredValue>> {
        Ok(self.slot(key)?.now.clone())
    }

    /// The value of `key` if it exists and has not expired.
    pub(crate) fn live(&mut self, key: &[u8]) -> io::Result<Option<StoredValue>> {
        Ok(self.live_ref(key)?.cloned())
    }

    /// The expiry of `key` as the ops so far left it (`None`: absent or no expiry).
    pub(crate) fn expiry_of(&mut self, key: &[u8]) -> io::Result<Option<u64>> {
        Ok(self.slot(key)?.now.as_ref().and_then(|v| v.expires_at_ms))
    }

    /// The value of `key` if it exists and has not expired, without a copy.
    pub(crate) fn live_ref(&mut self, key: &[u8]) -> io::Result<Option<&StoredValue>> {
        let now = self.now_ms;
        Ok(self.slot(key)?.now.as_ref().filter(|v| v.is_live(now)))
    }

    /// The live string value of `key`.
    pub(crate) fn string(&mut self, key: &[u8]) -> io::Result<Found> {
        Ok(match self.live(key)? {
            None => Found::Missing,
            Some(v) if v.kind == TYPE_STRING => Found::Value(v),
            Some(_) => Found::WrongType,
        })
    }

    /// Writes `payload` under `key` with `expires_at_ms`.
    pub(crate) fn put(&mut self, key: &[u8], payload: Vec<u8>, expires_at_ms: Option<u64>) {
        let value = StoredValue {
            kind: TYPE_STRING,
            seq: self.seq,
            expires_at_ms,
            payload,
        };
        self.set_raw(key, Some(value));
    }

    /// Writes `value` under `key`, with the current sequence number.
    pub(crate) fn write_value(&mut self, key: &[u8], value: StoredValue) {
        let seq = self.seq;
        self.set_raw(key, Some(StoredValue { seq, ..value }));
    }

    /// Writes `value` under `key` again with a new expiry, whatever its type.
    pub(crate) fn reexpire(&mut self, key: &[u8], value: StoredValue, expires_at_ms: Option<u64>) {
        self.write_value(
            key,
            StoredValue {
                expires_at_ms,
                ..value
            },
        );
    }

    /// The live string at `key`: `Ok(None)` if absent, `Err` with Redis's reply if
    /// the key holds another type.
    pub(crate) fn live_string(
        &mut self,
        key: &[u8],
    ) -> io::Result<Result<Option<StoredValue>, tessera_proto::reply::Reply>> {
        Ok(match self.live(key)? {
            Some(v) if v.kind != TYPE_STRING => Err(super::wrongtype()),
            found => Ok(found),
        })
    }

    /// Writes `payload` under `key` like [`Engine::put`], without reading the key first
    /// if the batch has not: for writes whose result does not depend on the old value
    /// (a plain `SET`, `MSET`). Saves a storage read per key and replica.
    pub(crate) fn put_blind(&mut self, key: &[u8], payload: Vec<u8>, expires_at_ms: Option<u64>) {
        if self.slots.contains_key(key) {
            return self.put(key, payload, expires_at_ms);
        }
        let value = StoredValue {
            kind: TYPE_STRING,
            seq: self.seq,
            expires_at_ms,
            payload,
        };
        let slot = Slot {
            before: Before::Unread,
            now: Some(value),
            dirty: true,
        };
        self.slots.insert(key.to_vec(), slot);
        self.dirty.push(key.to_vec());
    }

    /// Writes rows of a backup exactly as they were stored (values keep their sequence
    /// numbers and expiries; the expiry index follows the values).
    pub(crate) fn restore_rows(
        &mut self,
        rows: &[tessera_proto::data::BackupRow],
    ) -> io::Result<tessera_proto::reply::Reply> {
        for row in rows {
            if row.member {
                self.set_member(&row.key, Some(row.value.to_vec()))?;
            } else if let Some(value) = StoredValue::decode(&row.value) {
                self.set_raw(&row.key, Some(value));
            } else {
                return Ok(tessera_proto::reply::Reply::err(
                    "a backup row does not decode",
                ));
            }
        }
        Ok(tessera_proto::reply::Reply::Ok)
    }

    /// Deletes `key`.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.set_raw(key, None);
    }

    fn set_raw(&mut self, key: &[u8], value: Option<StoredValue>) {
        if self.slot(key).is_err() {
            // A failed read leaves the key unknown; the write then counts it as new.
            self.slots.entry(key.to_vec()).or_insert(Slot {
                before: Before::Absent,
                now: None,
                dirty: false,
            });
        }
        let unread = matches!(self.slots.get(key).map(|s| s.before), Some(Before::Unread));
        if value.is_none() && unread {
            // Deleting what a blind write wrote: read what it replaced after all, so
            // the old expiry entry goes and the byte count drops what was there.
            if let Ok(stored) = self.read.get(key) {
                let value = stored.and_then(|b| StoredValue::decode(&b));
                let before = Before::of(key, value.as_ref());
                self.slots.get_mut(key).expect("looked up above").before = before;
            }
        }
        let slot = self.slots.get_mut(key).expect("inserted above");
        slot.now = value;
        if !std::mem::replace(&mut slot.dirty, true) {
            self.dirty.push(key.to_vec());
        }
    }

    /// Deletes every key the batch has written so far (with [`Engine::remove`] on the
    /// stored keys, this empties a range).
    pub(crate) fn clear_pending(&mut self) {
        let written: Vec<Vec<u8>> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.now.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for key in written {
            self.remove(&key);
        }
    }

    /// Keys with `prefix` that the batch has touched, and whether each is live now.
    pub(crate) fn touched_with_prefix(&self, prefix: &[u8]) -> Vec<(Vec<u8>, bool)> {
        self.slots
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, slot)| {
                (
                    k.clone(),
                    slot.now.as_ref().is_some_and(|v| v.is_live(self.now_ms)),
                )
            })
            .collect()
    }

    /// Whether any op changed data.
    pub fn changed(&self) -> bool {
        !self.dirty.is_empty() || self.members.values().any(|m| m.dirty)
    }

    /// A version for a new collection: above every one this batch handed out.
    pub(crate) fn new_version(&mut self) -> Seq {
        let version = self.seq.max(Seq(self.last_version.0 + 1));
        self.last_version = version;
        version
    }

    fn member_slot(&mut self, row: &[u8]) -> io::Result<&mut MemberSlot> {
        if !self.members.contains_key(row) {
            let now = self.read.member(row)?;
            let before = now.as_ref().map_or(0, |v| row.len() + v.len());
            let slot = MemberSlot {
                before,
                now,
                dirty: false,
            };
            self.members.insert(row.to_vec(), slot);
        }
        Ok(self.members.get_mut(row).expect("inserted above"))
    }

    /// The value of member row `row` as the ops so far left it.
    pub(crate) fn member(&mut self, row: &[u8]) -> io::Result<Option<Vec<u8>>> {
        Ok(self.member_slot(row)?.now.clone())
    }

    /// Writes (or with `None` deletes) member row `row`; answers what it held.
    pub(crate) fn set_member(
        &mut self,
        row: &[u8],
        value: Option<Vec<u8>>,
    ) -> io::Result<Option<Vec<u8>>> {
        let slot = self.member_slot(row)?;
        slot.dirty = true;
        Ok(std::mem::replace(&mut slot.now, value))
    }

    /// Every member row with `prefix` as the ops so far left them, in order: (the row
    /// key without the prefix, value).
    pub(crate) fn member_rows(&mut self, prefix: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .merged_rows(prefix, prefix, usize::MAX, false)?
            .into_iter()
            .filter_map(|(row, v)| Some((row[prefix.len()..].to_vec(), v?)))
            .collect())
    }

    /// Rows with `prefix` from `from` on (or, `backwards`, from the last one back) as
    /// the ops so far left them (`None`: deleted): at least the first `limit` present
    /// ones, whatever part of them this batch wrote or deleted, so the answer does not
    /// depend on how entries were grouped into apply batches.
    pub(crate) fn merged_rows(
        &mut self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
        backwards: bool,
    ) -> io::Result<BTreeMap<Vec<u8>, Option<Vec<u8>>>> {
        use std::ops::Bound;
        let end = tessera_proto::keys::prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        let touched_range = self
            .members
            .range((Bound::Included(from.to_vec()), end))
            .filter(|(row, _)| row.starts_with(prefix));
        let touched_rows: Box<dyn Iterator<Item = (&Vec<u8>, &MemberSlot)>> = if backwards {
            Box::new(touched_range.rev())
        } else {
            Box::new(touched_range)
        };
        // The rows this batch touched, in reading order, up to the `limit`-th present
        // one: rows past it cannot be among the first `limit`.
        let (mut touched, mut deleted, mut cut) = (Vec::new(), 0usize, None);
        let mut present = 0usize;
        for (row, slot) in touched_rows {
            touched.push((row.clone(), slot.now.clone()));
            if slot.now.is_some() {
                present += 1;
            } else {
                deleted += 1;
            }
            if present == limit {
                cut = Some(row.clone());
                break;
            }
        }
        // Each deleted row hides at most one stored row.
        let want = limit.saturating_add(deleted);
        let stored = if backwards {
            self.read.last_members(prefix, want)?
        } else {
            self.read.members(prefix, from, want)?
        };
        let mut rows: BTreeMap<Vec<u8>, Option<Vec<u8>>> = stored
            .into_iter()
            .filter(|(k, _)| {
                cut.as_ref()
                    .is_none_or(|c| if backwards { k >= c } else { k <= c })
            })
            .map(|(k, v)| (k, Some(v)))
            .collect();
        rows.extend(touched);
        Ok(rows)
    }

    /// The first row with `prefix` at or after `from` (or, `backwards`, the last row
    /// with `prefix`), as the ops so far left it: (row key, value).
    pub(crate) fn edge_row(
        &mut self,
        prefix: &[u8],
        from: &[u8],
        backwards: bool,
    ) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let rows = self.merged_rows(prefix, from, 1, backwards)?;
        let mut present = rows.into_iter().filter_map(|(k, v)| Some((k, v?)));
        Ok(if backwards {
            present.next_back()
        } else {
            present.next()
        })
    }

    /// Deletes up to `limit` rows with `prefix` (rows of a collection no key refers to
    /// any more), as the ops so far left them: a follower may apply the writes that
    /// made the rows and their collection in the same batch. Answers how many.
    pub(crate) fn drop_rows(&mut self, prefix: &[u8], limit: usize) -> io::Result<usize> {
        let doomed: Vec<Vec<u8>> = self
            .merged_rows(prefix, prefix, limit, false)?
            .into_iter()
            .filter(|(_, v)| v.is_some())
            .map(|(row, _)| row)
            .take(limit)
            .collect();
        for row in &doomed {
            self.set_member(row, None)?;
        }
        Ok(doomed.len())
    }

    /// Marks the expiry-index entry `index_key` for deletion.
    pub(crate) fn drop_index_entry(&mut self, index_key: &[u8]) {
        self.stale_index.push(index_key.to_vec());
    }

    /// What the ops changed.
    pub fn into_changes(mut self) -> Changes {
        // An entry a later op of the batch wrote again is not stale.
        let slots = &self.slots;
        self.stale_index.retain(|index_key| {
            split_expiry_key(index_key).is_none_or(|(at, key)| {
                let now = slots.get(key).and_then(|s| s.now.as_ref());
                now.and_then(|v| v.expires_at_ms) != Some(at)
            })
        });
        let mut changes = Vec::with_capacity(self.dirty.len());
        for key in std::mem::take(&mut self.dirty) {
            let slot = self.slots.remove(&key).expect("a dirty key has a slot");
            let (old_expiry, old_size) = match slot.before {
                Before::Was(expiry, size) => (expiry, size),
                Before::Absent | Before::Unread => (None, 0),
            };
            changes.push(Change {
                key,
                old_expiry,
                old_size,
                blind: matches!(slot.before, Before::Unread),
                new: slot.now,
            });
        }
        let members = std::mem::take(&mut self.members)
            .into_iter()
            .filter(|(_, m)| m.dirty)
            .map(|(row, m)| MemberChange {
                old_size: m.before,
                new: m.now,
                row,
            })
            .collect();
        Changes {
            keys: changes,
            stale_index: self.stale_index,
            members,
        }
    }
}

//! The evaluator's storage side: reads keys through a caller-supplied reader, keeps
//! every change in an overlay (so later ops of the same batch see earlier ones), and
//! hands the changes back for the caller to write atomically.

use crate::value::{split_expiry_key, Seq, StoredValue, TYPE_STRING};
use std::io;
use tessera_common::hash::FastMap;

/// Reads a stored value by storage key.
pub type Reader<'a> = dyn Fn(&[u8]) -> io::Result<Option<Vec<u8>>> + Send + Sync + 'a;

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
}

/// What a batch of ops changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// One net change per key, in the order keys were first changed.
    pub keys: Vec<Change>,
    /// Expiry-index entries that no longer match their key's expiry (left behind by
    /// blind writes), to delete.
    pub stale_index: Vec<Vec<u8>>,
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
        }
    }

    /// The slot of `key`, read from storage the first time.
    fn slot(&mut self, key: &[u8]) -> io::Result<&mut Slot> {
        if !self.slots.contains_key(key) {
            let now = (self.read)(key)?.and_then(|bytes| StoredValue::decode(&bytes));
            let before = now.as_ref().map_or(Before::Absent, |v| {
                Before::Was(v.expires_at_ms, key.len() + v.encoded_len())
            });
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
        let now = self.now_ms;
        Ok(self
            .load(key)?
            .filter(|v| v.expires_at_ms.is_none_or(|at| at > now)))
    }

    /// The expiry of `key` as the ops so far left it (`None`: absent or no expiry).
    pub(crate) fn expiry_of(&mut self, key: &[u8]) -> io::Result<Option<u64>> {
        Ok(self.slot(key)?.now.as_ref().and_then(|v| v.expires_at_ms))
    }

    /// The value of `key` if it exists and has not expired, without a copy.
    pub(crate) fn live_ref(&mut self, key: &[u8]) -> io::Result<Option<&StoredValue>> {
        let now = self.now_ms;
        Ok(self
            .slot(key)?
            .now
            .as_ref()
            .filter(|v| v.expires_at_ms.is_none_or(|at| at > now)))
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
            if let Ok(stored) = (self.read)(key) {
                let before = stored
                    .and_then(|b| StoredValue::decode(&b))
                    .map_or(Before::Absent, |v| {
                        Before::Was(v.expires_at_ms, key.len() + v.encoded_len())
                    });
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
                    slot.now
                        .as_ref()
                        .is_some_and(|v| v.expires_at_ms.is_none_or(|at| at > self.now_ms)),
                )
            })
            .collect()
    }

    /// Whether any op changed data.
    pub fn changed(&self) -> bool {
        !self.dirty.is_empty()
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
        Changes {
            keys: changes,
            stale_index: self.stale_index,
        }
    }
}

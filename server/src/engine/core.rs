//! The evaluator's storage side: reads keys through a caller-supplied reader, keeps
//! every change in an overlay (so later ops of the same batch see earlier ones), and
//! hands the changes back for the caller to write atomically.

use crate::value::{Seq, StoredValue, TYPE_STRING};
use std::collections::HashMap;
use std::io;

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

/// Evaluates ops for one group.
pub struct Engine<'a> {
    read: &'a Reader<'a>,
    /// The time ops are evaluated at (the leader's clock, from the Raft entry on writes).
    pub now_ms: u64,
    /// The sequence number given to values written by the current op.
    pub seq: Seq,
    original: HashMap<Vec<u8>, Option<StoredValue>>,
    current: HashMap<Vec<u8>, Option<StoredValue>>,
    dirty: Vec<Vec<u8>>,
}

impl<'a> Engine<'a> {
    /// An engine reading through `read`, at time `now_ms`.
    pub fn new(read: &'a Reader<'a>, now_ms: u64, seq: Seq) -> Self {
        Self {
            read,
            now_ms,
            seq,
            original: HashMap::new(),
            current: HashMap::new(),
            dirty: Vec::new(),
        }
    }

    /// The value of `key` as the ops so far left it, expired or not.
    pub(crate) fn load(&mut self, key: &[u8]) -> io::Result<Option<StoredValue>> {
        if let Some(v) = self.current.get(key) {
            return Ok(v.clone());
        }
        let stored = (self.read)(key)?.and_then(|bytes| StoredValue::decode(&bytes));
        self.original.insert(key.to_vec(), stored.clone());
        self.current.insert(key.to_vec(), stored.clone());
        Ok(stored)
    }

    /// The value of `key` if it exists and has not expired.
    pub(crate) fn live(&mut self, key: &[u8]) -> io::Result<Option<StoredValue>> {
        let now = self.now_ms;
        Ok(self
            .load(key)?
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

    /// Deletes `key`.
    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.set_raw(key, None);
    }

    fn set_raw(&mut self, key: &[u8], value: Option<StoredValue>) {
        if !self.original.contains_key(key) {
            // Keep the pre-batch value for the expiry index even if never read.
            let _ = self.load(key);
        }
        self.current.insert(key.to_vec(), value);
        self.dirty.push(key.to_vec());
    }

    /// Deletes every key the batch has written so far (with [`Engine::remove`] on the
    /// stored keys, this empties a range).
    pub(crate) fn clear_pending(&mut self) {
        let written: Vec<Vec<u8>> = self
            .current
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for key in written {
            self.remove(&key);
        }
    }

    /// Keys with `prefix` that the batch has touched, and whether each is live now.
    pub(crate) fn touched_with_prefix(&self, prefix: &[u8]) -> Vec<(Vec<u8>, bool)> {
        self.current
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_ref()
                        .is_some_and(|v| v.expires_at_ms.is_none_or(|at| at > self.now_ms)),
                )
            })
            .collect()
    }

    /// Whether any op changed data.
    pub fn changed(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The net changes, one per key, in the order keys were first changed.
    pub fn into_changes(mut self) -> Vec<Change> {
        let mut seen = std::collections::HashSet::new();
        let mut changes = Vec::new();
        for key in std::mem::take(&mut self.dirty) {
            if !seen.insert(key.clone()) {
                continue;
            }
            let old = self.original.get(&key).and_then(Option::as_ref);
            let old_expiry = old.and_then(|v| v.expires_at_ms);
            let old_size = old.map_or(0, |v| key.len() + v.encoded_len());
            let new = self.current.remove(&key).flatten();
            changes.push(Change {
                key,
                old_expiry,
                old_size,
                new,
            });
        }
        changes
    }
}

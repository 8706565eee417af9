//! What a group's request paths read of its applied state, without taking the state
//! machine: published after every apply.

use super::GroupRecord;
use crate::value::Seq;
use std::sync::{Arc, Mutex, RwLock};
use tessera_common::hash::FastMap;
use tessera_proto::catalog::RangeDesc;

/// What the replica's request paths read of the applied state.
#[derive(Debug, Default)]
pub struct Published {
    max_seq: Mutex<Seq>,
    range: RwLock<Arc<RangeDesc>>,
    frozen_at: Mutex<Option<u64>>,
    bytes: std::sync::atomic::AtomicU64,
    unsure: std::sync::atomic::AtomicU64,
    /// Requests waiting for writes to keys ([`Published::watch`]).
    watchers: Mutex<FastMap<Vec<u8>, Vec<Arc<tokio::sync::Notify>>>>,
    watching: std::sync::atomic::AtomicUsize,
}

/// A registration made by [`Published::watch`]: notified once one of its keys is
/// written; unregistered when dropped.
pub struct KeyWatch<'a> {
    published: &'a Published,
    keys: Vec<Vec<u8>>,
    notify: Arc<tokio::sync::Notify>,
}

impl KeyWatch<'_> {
    /// Waits until one of the keys is written (at once if one was since the watch).
    pub async fn written(&self) {
        self.notify.notified().await;
    }
}

impl Drop for KeyWatch<'_> {
    fn drop(&mut self) {
        let mut watchers = self
            .published
            .watchers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(list) = watchers.get_mut(key) {
                list.retain(|n| !Arc::ptr_eq(n, &self.notify));
                if list.is_empty() {
                    watchers.remove(key);
                }
            }
        }
        self.published
            .watching
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Published {
    /// The highest applied sequence number.
    pub fn max_seq(&self) -> Seq {
        *self.max_seq.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The range as last applied.
    pub fn range(&self) -> Arc<RangeDesc> {
        self.range.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the range is frozen for a merge.
    pub fn frozen(&self) -> bool {
        self.frozen_at().is_some()
    }

    /// The index of the freeze entry, if the range is frozen.
    pub fn frozen_at(&self) -> Option<u64> {
        *self.frozen_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of keys and values in the range.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes written blind since the last recount: how far `bytes` may be over.
    pub fn unsure(&self) -> u64 {
        self.unsure.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Registers interest in writes to `keys` (storage keys): the returned watch is
    /// notified by the first apply that changes one of them.
    pub fn watch(&self, keys: &[impl AsRef<[u8]>]) -> KeyWatch<'_> {
        let notify = Arc::new(tokio::sync::Notify::new());
        let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.as_ref().to_vec()).collect();
        {
            let mut watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
            for key in &keys {
                watchers
                    .entry(key.clone())
                    .or_default()
                    .push(notify.clone());
            }
        }
        self.watching
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        KeyWatch {
            published: self,
            keys,
            notify,
        }
    }

    /// Whether any request watches keys.
    pub(super) fn watched(&self) -> bool {
        self.watching.load(std::sync::atomic::Ordering::Relaxed) > 0
    }

    /// Wakes the watches of `keys`, which an apply just changed.
    pub(super) fn written<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) {
        if !self.watched() {
            return;
        }
        let watchers = self.watchers.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            for notify in watchers.get(key).into_iter().flatten() {
                notify.notify_one();
            }
        }
    }

    pub(super) fn publish(&self, record: &GroupRecord) {
        use std::sync::atomic::Ordering;
        *self.frozen_at.lock().unwrap_or_else(|p| p.into_inner()) = record.frozen_at;
        self.bytes.store(record.bytes, Ordering::Relaxed);
        self.unsure.store(record.unsure, Ordering::Relaxed);
        *self.max_seq.lock().unwrap_or_else(|p| p.into_inner()) = record.max_seq;
        let mut range = self.range.write().unwrap_or_else(|p| p.into_inner());
        if **range != record.range {
            *range = Arc::new(record.range.clone());
        }
    }
}

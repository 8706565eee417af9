//! What a group's request paths read of its applied state, without taking the state
//! machine: published after every apply.

use super::GroupRecord;
use crate::value::Seq;
use std::sync::{Arc, Mutex, RwLock};
use tessera_proto::catalog::RangeDesc;

/// What the replica's request paths read of the applied state.
#[derive(Debug, Default)]
pub struct Published {
    max_seq: Mutex<Seq>,
    range: RwLock<Arc<RangeDesc>>,
    frozen_at: Mutex<Option<u64>>,
    bytes: std::sync::atomic::AtomicU64,
    unsure: std::sync::atomic::AtomicU64,
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

//! What a group's request paths read of its applied state, without taking the state
//! machine: published after every apply.

use super::GroupRecord;
use crate::value::Seq;
use crate::DataTypes;
use openraft::type_config::alias::LogIdOf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// The last log id applied.
    applied: Mutex<Option<LogIdOf<DataTypes>>>,
    /// Whether a key prefix is fenced.
    fenced: AtomicBool,
    /// Commands proposed on this replica that may change how later ones apply (range
    /// changes, fences), still unapplied ([`Published::unsettle`]).
    unsettled: AtomicUsize,
    /// The last log index when the replica opened ([`Published::set_log_floor`]).
    log_floor: AtomicU64,
}

/// Held while a command that may change how later ones apply is proposed and not yet
/// applied. [`Unsettled::settle`] releases it once its apply is published or it
/// failed; dropped without that (the apply failed on an I/O error, the Raft core gave
/// up the responder), it stays held: no write of the group is answered at commit again
/// until the replica reopens.
#[derive(Debug)]
pub struct Unsettled(Arc<Published>);

impl Unsettled {
    /// Releases it: the command's apply is published, or it failed as a whole.
    pub fn settle(self) {
        self.0.unsettled.fetch_sub(1, Ordering::SeqCst);
    }
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

    /// Marks a command that may change how later commands apply (a range change, a
    /// fence) as proposed: until the returned guard drops, [`Published::settled_for`]
    /// answers no. Taken before the command enters the log.
    pub fn unsettle(self: &Arc<Self>) -> Unsettled {
        self.unsettled.fetch_add(1, Ordering::SeqCst);
        Unsettled(self.clone())
    }

    /// Sets the last log index the replica found when it opened. Its entries were not
    /// counted by [`Published::unsettle`], yet a leader restored at start (openraft
    /// resumes leading under the same leader id, with no new blank entry, when its
    /// vote was committed) may have proposed them: no write is answered at commit until
    /// they are applied.
    pub fn set_log_floor(&self, index: u64) {
        self.log_floor.store(index, Ordering::SeqCst);
    }

    /// Whether a command proposed under range epoch `epoch` and committed as `log_id`,
    /// not yet applied, will be applied as proposed (not refused for another epoch, a
    /// freeze or a fence). True when everything between the applied position and it
    /// leaves those alone: every command proposed here before it that could change them
    /// is applied, and so is every entry of earlier leaders (the applied entry is this
    /// leader's own) and every entry the log held when the replica opened; and the
    /// applied state has this epoch, no freeze and no fence.
    pub fn settled_for(&self, log_id: &LogIdOf<DataTypes>, epoch: u64) -> bool {
        // The count first: what the commands it counted changed is published before
        // they leave it.
        let floor = self.log_floor.load(Ordering::SeqCst);
        self.unsettled.load(Ordering::SeqCst) == 0
            && self
                .applied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .is_some_and(|a| a.leader_id == log_id.leader_id && a.index >= floor)
            && !self.fenced.load(Ordering::SeqCst)
            && !self.frozen()
            && self.range().epoch == epoch
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
        *self.applied.lock().unwrap_or_else(|p| p.into_inner()) = record.applied;
        self.fenced
            .store(!record.fenced.is_empty(), Ordering::SeqCst);
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

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::type_config::alias::LeaderIdOf;
    use openraft::vote::RaftLeaderIdExt;

    fn log_id(term: u64, node: u64, index: u64) -> LogIdOf<DataTypes> {
        LogIdOf::<DataTypes>::new(LeaderIdOf::<DataTypes>::new_committed(term, node), index)
    }

    fn record(applied: LogIdOf<DataTypes>, epoch: u64) -> GroupRecord {
        let mut record = GroupRecord {
            applied: Some(applied),
            ..Default::default()
        };
        record.range.epoch = epoch;
        record
    }

    #[test]
    fn a_write_is_settled_only_once_its_leader_applied_and_nothing_unsettles_it() {
        let published = Arc::new(Published::default());
        // Nothing applied yet: an earlier leader's entries may still be unapplied.
        assert!(!published.settled_for(&log_id(2, 1, 9), 3));
        // The applied entry is another leader's: its entries may precede this one.
        published.publish(&record(log_id(1, 2, 5), 3));
        assert!(!published.settled_for(&log_id(2, 1, 9), 3));
        // The leader's own entry is applied: settled, under the applied epoch only.
        published.publish(&record(log_id(2, 1, 6), 3));
        assert!(published.settled_for(&log_id(2, 1, 9), 3));
        assert!(!published.settled_for(&log_id(2, 1, 9), 2));
        // A range change or a fence proposed and not applied unsettles every write.
        let change = published.unsettle();
        let fence = published.unsettle();
        assert!(!published.settled_for(&log_id(2, 1, 9), 3));
        change.settle();
        assert!(!published.settled_for(&log_id(2, 1, 9), 3));
        fence.settle();
        assert!(published.settled_for(&log_id(2, 1, 9), 3));
        // One whose apply failed is never released.
        drop(published.unsettle());
        assert!(!published.settled_for(&log_id(2, 1, 9), 3));
        let published = Arc::new(Published::default());
        // A leader restored at start: its entries before the restart must apply first.
        published.set_log_floor(7);
        published.publish(&record(log_id(2, 1, 6), 3));
        assert!(!published.settled_for(&log_id(2, 1, 9), 3));
        published.publish(&record(log_id(2, 1, 7), 3));
        assert!(published.settled_for(&log_id(2, 1, 9), 3));
        // An applied fence or freeze: apply may refuse the write.
        let mut fenced = record(log_id(2, 1, 7), 3);
        fenced.fenced.push(b"t".to_vec());
        published.publish(&fenced);
        assert!(!published.settled_for(&log_id(2, 1, 9), 3));
        let mut frozen = record(log_id(2, 1, 8), 3);
        frozen.frozen_at = Some(8);
        published.publish(&frozen);
        assert!(!published.settled_for(&log_id(2, 1, 9), 3));
        published.publish(&record(log_id(2, 1, 8), 3));
        assert!(published.settled_for(&log_id(2, 1, 9), 3));
    }
}

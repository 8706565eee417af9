//! One replica of a replication group on this node: its Raft handle and the leader-side
//! paths for writes (sequence assignment, proposal) and linearizable reads.

use crate::api::{DataError, DataRequest, DataResponse, ReplicaDigest, WriteOp, WriteResult};
use crate::state_machine::{DataCommand, DataKeyspaces, GroupStateMachine};
use crate::value::{now_ms, now_nanos, Seq, SeqGen, StoredValue};
use crate::DataRaft;
use openraft::error::{ClientWriteError, RaftError};
use openraft::impls::ProgressResponder;
use openraft::ReadPolicy;
use std::hash::{DefaultHasher, Hasher};
use std::sync::{Arc, Mutex};
use tessera_meta::catalog::{GroupId, NodeId};

/// This node's replica of one group.
pub struct GroupReplica {
    /// The group id.
    pub id: GroupId,
    /// Its Raft instance.
    pub raft: DataRaft,
    ks: DataKeyspaces,
    start: Vec<u8>,
    end: Vec<u8>,
    epoch: u64,
    proposer: tokio::sync::Mutex<SeqGen>,
    applied_max_seq: Arc<Mutex<Seq>>,
}

fn not_leader<E>(e: &RaftError<crate::DataTypes, E>) -> Option<DataError>
where
    E: openraft::TryAsRef<openraft::error::ForwardToLeader<crate::DataTypes>> + std::fmt::Debug,
{
    e.forward_to_leader().map(|f| DataError::NotLeader {
        leader: f.leader_id,
    })
}

impl GroupReplica {
    /// Wraps a started Raft instance whose state machine is `sm_max_seq`'s owner.
    pub fn new(
        id: GroupId,
        node: NodeId,
        raft: DataRaft,
        ks: DataKeyspaces,
        range: (Vec<u8>, Vec<u8>, u64),
        applied_max_seq: Arc<Mutex<Seq>>,
    ) -> Self {
        let (start, end, epoch) = range;
        let proposer = tokio::sync::Mutex::new(SeqGen::new(node as u32));
        Self {
            id,
            raft,
            ks,
            start,
            end,
            epoch,
            proposer,
            applied_max_seq,
        }
    }

    fn in_range(&self, key: &[u8]) -> bool {
        self.start.as_slice() <= key && key < self.end.as_slice()
    }

    /// Serves one data request routed with range epoch `epoch`.
    pub async fn serve(&self, epoch: u64, req: DataRequest) -> Result<DataResponse, DataError> {
        if epoch != self.epoch {
            return Err(DataError::EpochMismatch {
                current: self.epoch,
            });
        }
        match req {
            DataRequest::Write(ops) => self.write(ops).await.map(DataResponse::Written),
            DataRequest::Get { keys } => {
                self.check_keys(keys.iter().map(Vec::as_slice))?;
                self.read_barrier().await?;
                let now = now_ms();
                let values = keys
                    .iter()
                    .map(|k| self.get_live(k, now))
                    .collect::<Result<_, _>>()?;
                Ok(DataResponse::Values(values))
            }
            DataRequest::Exists { keys } => {
                self.check_keys(keys.iter().map(Vec::as_slice))?;
                self.read_barrier().await?;
                let now = now_ms();
                let mut count = 0;
                for key in &keys {
                    count += u64::from(self.get_live(key, now)?.is_some());
                }
                Ok(DataResponse::Count(count))
            }
            DataRequest::Scan { start, end, limit } => {
                self.read_barrier().await?;
                self.scan(start, end, limit)
            }
            DataRequest::Count => {
                self.read_barrier().await?;
                let (_, keys, _) = self.walk(false)?;
                Ok(DataResponse::Count(keys))
            }
        }
    }

    fn check_keys<'a>(&self, mut keys: impl Iterator<Item = &'a [u8]>) -> Result<(), DataError> {
        match keys.all(|k| self.in_range(k)) {
            true => Ok(()),
            false => Err(DataError::KeyNotInRange),
        }
    }

    /// Proposes `ops` as one Raft entry and waits until it is applied.
    async fn write(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteResult>, DataError> {
        self.check_keys(ops.iter().flat_map(WriteOp::keys))?;
        let (responder, applied) = ProgressResponder::complete_only();
        {
            // Sequence numbers must follow log order: assign and enqueue under one lock.
            let mut proposer = self.proposer.lock().await;
            let floor = *self
                .applied_max_seq
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let seq = proposer.reserve(now_nanos(), ops.len(), floor);
            let cmd = DataCommand {
                seq,
                now_ms: now_ms(),
                ops,
            };
            self.raft
                .write(cmd)
                .responder(responder)
                .await
                .map_err(|e| DataError::Internal(e.to_string()))?;
        }
        match applied.await {
            Ok(Ok(written)) => Ok(written.data),
            Ok(Err(ClientWriteError::ForwardToLeader(f))) => Err(DataError::NotLeader {
                leader: f.leader_id,
            }),
            Ok(Err(ClientWriteError::LogEntryDiscarded(_))) => Err(DataError::Indeterminate),
            Ok(Err(e)) => Err(DataError::Internal(e.to_string())),
            Err(_) => Err(DataError::Indeterminate),
        }
    }

    /// Waits until this replica may serve a linearizable read (ReadIndex).
    async fn read_barrier(&self) -> Result<(), DataError> {
        match self.raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
            Ok(_) => Ok(()),
            Err(e) => Err(not_leader(&e).unwrap_or_else(|| DataError::Internal(e.to_string()))),
        }
    }

    fn get_live(&self, key: &[u8], now: u64) -> Result<Option<Vec<u8>>, DataError> {
        let stored = self
            .ks
            .data
            .get(key)
            .map_err(|e| DataError::Internal(e.to_string()))?;
        Ok(stored
            .and_then(|bytes| StoredValue::decode(&bytes))
            .and_then(|v| {
                let expired = v.expires_at_ms.is_some_and(|at| at <= now);
                (!expired).then_some(v.payload)
            }))
    }

    fn scan(&self, start: Vec<u8>, end: Vec<u8>, limit: u32) -> Result<DataResponse, DataError> {
        let from = start.max(self.start.clone());
        let to = if end.is_empty() {
            self.end.clone()
        } else {
            end.min(self.end.clone())
        };
        let now = now_ms();
        let mut keys = Vec::new();
        if from >= to {
            return Ok(DataResponse::Keys { keys, done: true });
        }
        let view = self.ks.db.snapshot();
        for kv in fjall::Readable::range(&view, &self.ks.data, from.as_slice()..to.as_slice()) {
            let (k, v) = kv
                .into_inner()
                .map_err(|e| DataError::Internal(e.to_string()))?;
            if StoredValue::is_expired_raw(&v, now) {
                continue;
            }
            if keys.len() == limit as usize {
                return Ok(DataResponse::Keys { keys, done: false });
            }
            keys.push(k.to_vec());
        }
        Ok(DataResponse::Keys { keys, done: true })
    }

    /// Walks the whole range locally: (applied index, live keys, digest of all pairs).
    fn walk(&self, digest: bool) -> Result<(u64, u64, u64), DataError> {
        let internal = |e: fjall::Error| DataError::Internal(e.to_string());
        let view = self.ks.db.snapshot();
        let applied = fjall::Readable::get(&view, &self.ks.groups, self.id.to_be_bytes())
            .map_err(internal)?
            .and_then(|b| postcard::from_bytes::<crate::state_machine::GroupRecord>(&b).ok())
            .and_then(|r| r.applied)
            .map_or(0, |id| id.index);
        let (now, mut keys, mut hasher) = (now_ms(), 0, DefaultHasher::new());
        for kv in fjall::Readable::range(
            &view,
            &self.ks.data,
            self.start.as_slice()..self.end.as_slice(),
        ) {
            let (k, v) = kv.into_inner().map_err(internal)?;
            keys += u64::from(!StoredValue::is_expired_raw(&v, now));
            if digest {
                hasher.write(&k);
                hasher.write(&v);
            }
        }
        Ok((applied, keys, hasher.finish()))
    }

    /// This replica's local digest (see [`ReplicaDigest`]).
    pub fn digest(&self) -> Result<ReplicaDigest, DataError> {
        let leader = {
            use openraft::async_runtime::WatchReceiver;
            self.raft.metrics().borrow_watched().current_leader
        };
        let (applied, keys, digest) = self.walk(true)?;
        Ok(ReplicaDigest {
            leader,
            applied,
            keys,
            digest,
        })
    }

    /// Opens the state machine of group `id` for range `[start, end)`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn open_state_machine(
        ks: &DataKeyspaces,
        id: GroupId,
        start: &[u8],
        end: &[u8],
    ) -> std::io::Result<GroupStateMachine> {
        GroupStateMachine::open(ks.clone(), id, start, end)
    }
}

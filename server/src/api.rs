//! The storage node's internal RPC: Raft messages for its groups and data requests from
//! routers. Routing errors are typed here so the router can act on them
//! (follow a leader, refresh its catalog) and convert the rest to RESP in one place.

use crate::ops::{Op, OpResult};
use crate::DataTypes;
use serde::{Deserialize, Serialize};
use tessera_common::raftnet::{RaftReply, RaftRequest};
use tessera_meta::catalog::{GroupId, NodeId};

/// A request for the data of one group.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum DataRequest {
    /// Replicate these ops as one Raft entry (atomic within the group) and answer
    /// their results.
    Write(Vec<Op>),
    /// Evaluate read-only ops linearizably (ReadIndex) and answer their results.
    Read(Vec<Op>),
    /// Linearizable listing of up to `limit` live keys in `[start, end)` (clipped to the
    /// group's range), in byte order.
    Scan {
        /// First storage key.
        start: Vec<u8>,
        /// End storage key (exclusive).
        end: Vec<u8>,
        /// Most keys to return.
        limit: u32,
    },
    /// Linearizable count of live keys in the group's range.
    Count,
    /// Delete every key of the group's range (FLUSHALL), as one Raft entry.
    Clear,
}

/// The answer to a [`DataRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum DataResponse {
    /// Results of `Write` or `Read`, one per op.
    Results(Vec<OpResult>),
    /// Answer to `Count`: live keys, how many of them have an expiry, and their size.
    Count {
        /// Live keys.
        keys: u64,
        /// Live keys with an expiry.
        volatile: u64,
        /// Bytes of the live keys and their stored values.
        bytes: u64,
    },
    /// Answer to `Scan`: the keys, and whether the requested interval is exhausted.
    Keys {
        /// Storage keys, ascending.
        #[serde(with = "tessera_common::wire_bytes::byte_list")]
        keys: Vec<Vec<u8>>,
        /// No key of the interval is left after the last one returned.
        done: bool,
    },
    /// Answer to `Clear`.
    Cleared,
}

/// Why a data request was not served; the router acts on the routing ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum DataError {
    /// This replica is not the leader; `leader` is the hint, if known.
    #[error("not the leader (leader hint: {leader:?})")]
    NotLeader {
        /// The leader's node id, if known.
        leader: Option<NodeId>,
    },
    /// The request was routed with another range epoch than the group's.
    #[error("range epoch mismatch (current {current})")]
    EpochMismatch {
        /// The group's current epoch.
        current: u64,
    },
    /// A key lies outside the group's range.
    #[error("key not in the group's range")]
    KeyNotInRange,
    /// This node hosts no such group.
    #[error("group not found on this node")]
    GroupNotFound,
    /// The write was proposed but leadership changed; it may or may not be applied.
    #[error("leadership changed while the write was in flight; its outcome is unknown")]
    Indeterminate,
    /// Anything else (storage failure, shutting down).
    #[error("{0}")]
    Internal(String),
}

impl DataError {
    /// Whether the router may safely send the same request again (to another replica).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DataError::NotLeader { .. }
                | DataError::EpochMismatch { .. }
                | DataError::GroupNotFound
        )
    }
}

/// What a replica holds, for comparing replicas (tests, operators).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaDigest {
    /// The group leader as this replica knows it.
    pub leader: Option<NodeId>,
    /// The last applied log index.
    pub applied: u64,
    /// The last log index purged from this replica's Raft log (0: none).
    pub purged: u64,
    /// Whether its Raft timers are stopped (an idle group, see `hibernate`).
    pub asleep: bool,
    /// Live keys in the range.
    pub keys: u64,
    /// Keys physically stored in the range, expired or not.
    pub stored: u64,
    /// Entries of the node's expiry index that fall in the range.
    pub expiry_index: u64,
    /// A hash over every stored key and value in the range.
    pub digest: u64,
}

/// A request to a storage node.
#[derive(Serialize, Deserialize)]
pub enum NodeRequest {
    /// A Raft message for one of its groups.
    Raft {
        /// The group.
        group: GroupId,
        /// The message.
        msg: RaftRequest<DataTypes>,
    },
    /// A data request for one of its groups, routed with range epoch `epoch`.
    Data {
        /// The group.
        group: GroupId,
        /// The range epoch the router believes current.
        epoch: u64,
        /// The request.
        req: DataRequest,
    },
    /// This replica's digest of its range, read locally (not linearizable).
    Digest {
        /// The group.
        group: GroupId,
    },
    /// Flush and fully compact this node's storage (operators' `COMPACT`).
    Compact,
    /// A group leader asks this follower to stop its Raft timers (see
    /// [`crate::hibernate`]).
    Hibernate(crate::hibernate::SleepRequest),
    /// Liveness probe from a node whose sleeping replicas follow one here.
    Ping,
    /// The group's committed membership, answered only by its leader.
    Membership {
        /// The group.
        group: GroupId,
    },
    /// What this node stores in `[start, end)` (storage keys), whatever the group:
    /// used to check that a dropped table left nothing behind.
    Footprint {
        /// First storage key.
        #[serde(with = "tessera_common::wire_bytes::bytes")]
        start: Vec<u8>,
        /// End storage key (exclusive).
        #[serde(with = "tessera_common::wire_bytes::bytes")]
        end: Vec<u8>,
    },
}

/// A storage node's answer.
#[derive(Serialize, Deserialize)]
pub enum NodeResponse {
    /// Answer to `Raft`.
    Raft(RaftReply<DataTypes>),
    /// Answer to `Data`.
    Data(Result<DataResponse, DataError>),
    /// Answer to `Digest`.
    Digest(Result<ReplicaDigest, DataError>),
    /// Answer to `Compact`.
    Compacted(Result<(), DataError>),
    /// Answer to `Hibernate`: whether the follower stopped its timers.
    Hibernated(bool),
    /// Answer to `Ping`.
    Pong,
    /// Answer to `Membership`: `None` unless this node leads the group.
    Membership(Option<tessera_meta::proto::GroupMembership>),
    /// Answer to `Footprint`: (stored keys, group records).
    Footprint(Result<(u64, u64), DataError>),
}

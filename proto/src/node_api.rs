//! What routers, the meta controller and tests ask of a storage node. Raft traffic
//! between nodes has its own messages, in the storage node's crate.

use crate::catalog::{GroupId, NodeId};
use crate::data::{DataError, DataRequest, DataResponse};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A request to a storage node.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum NodeRequest {
    /// A data request for one of its groups, routed with range epoch `epoch`.
    Data {
        /// The group.
        group: GroupId,
        /// The range epoch the caller believes current.
        epoch: u64,
        /// The request (shared: a caller retrying it sends the same one again; it
        /// encodes as the request itself).
        req: Arc<DataRequest>,
    },
    /// This replica's digest of its range, read locally (not linearizable).
    Digest {
        /// The group.
        group: GroupId,
    },
    /// The last log index this node's replica of `group` applied (a merge waits for
    /// every replica of its source to have applied the freeze).
    Applied {
        /// The group.
        group: GroupId,
    },
    /// Flush and fully compact this node's storage (operators' `COMPACT`).
    Compact,
    /// What this node stores in `[start, end)` (storage keys), whatever the group:
    /// used to check that a dropped table left nothing behind.
    Footprint {
        /// First storage key.
        #[serde(with = "serde_bytes")]
        start: Vec<u8>,
        /// End storage key (exclusive).
        #[serde(with = "serde_bytes")]
        end: Vec<u8>,
    },
    /// This node's counters since it started (`INFO`'s `keyspace_hits` and
    /// `keyspace_misses` are their sum over the nodes).
    Counters,
}

/// A storage node's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum NodeResponse {
    /// Answer to `Data`.
    Data(Result<DataResponse, DataError>),
    /// Answer to `Digest`.
    Digest(Result<ReplicaDigest, DataError>),
    /// Answer to `Applied`.
    Applied(Result<u64, DataError>),
    /// Answer to `Compact`.
    Compacted(Result<(), DataError>),
    /// Answer to `Footprint`: (stored keys, group records).
    Footprint(Result<(u64, u64), DataError>),
    /// Answer to `Counters`.
    Counters(NodeCounters),
}

/// What a storage node counted since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCounters {
    /// Keys that read commands found (live), as Redis's `keyspace_hits`: once per key
    /// a read command looks up, on the replica that served it.
    pub keyspace_hits: u64,
    /// Keys that read commands looked up and did not find (absent or expired).
    pub keyspace_misses: u64,
    /// When the node started counting (Unix ms): a newer value means the node
    /// restarted and its counts started over.
    pub started_ms: u64,
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
    /// Whether its Raft timers are stopped (an idle group asleep).
    pub asleep: bool,
    /// The range epoch in its replicated state.
    pub epoch: u64,
    /// Live keys in the range.
    pub keys: u64,
    /// Keys physically stored in the range, expired or not.
    pub stored: u64,
    /// Entries of the node's expiry index that fall in the range.
    pub expiry_index: u64,
    /// Collection member rows stored in the range (live or waiting for the collector).
    pub members: u64,
    /// A hash over every stored key and value in the range.
    pub digest: u64,
}

/// A client of a storage node's requests.
pub type NodeClient = tessera_common::rpc::ServiceClient<NodeRequest, NodeResponse>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::strings::Get;

    /// What a data request looked like on the wire before it was shared: nodes and
    /// routers of both builds must keep understanding each other.
    #[derive(Serialize)]
    enum Unshared {
        Data {
            group: GroupId,
            epoch: u64,
            req: DataRequest,
        },
    }

    #[test]
    fn a_shared_data_request_encodes_as_the_request_itself() {
        let req = DataRequest::Read(vec![Get {
            key: bytes::Bytes::from_static(b"k"),
        }
        .into()]);
        let shared = NodeRequest::Data {
            group: 7,
            epoch: 3,
            req: Arc::new(req.clone()),
        };
        let unshared = Unshared::Data {
            group: 7,
            epoch: 3,
            req,
        };
        assert_eq!(
            postcard::to_stdvec(&shared).unwrap(),
            postcard::to_stdvec(&unshared).unwrap()
        );
    }
}

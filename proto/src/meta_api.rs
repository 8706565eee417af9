//! What routers and storage nodes ask of the meta service. Raft traffic between meta
//! members has its own messages, in the meta crate.

use crate::catalog::{CatalogUpdate, GroupId, NodeId, RangeDesc, RangeId, TableId};
use serde::{Deserialize, Serialize};

/// What a storage node reports about one of its replicas.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplicaStats {
    /// The group.
    pub group: GroupId,
    /// Whether this replica is the group's leader.
    pub is_leader: bool,
    /// Its last applied log index.
    pub applied: u64,
    /// On the leader only: the group's Raft membership and its followers' progress.
    pub membership: Option<GroupMembership>,
    /// Whether the replica's Raft timers are stopped (an idle group asleep).
    pub asleep: bool,
    /// On the leader only: the range as its replicated state has it, and its load.
    pub range: Option<(RangeDesc, RangeLoad)>,
}

/// How big and how busy a range is, as its leader measures it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RangeLoad {
    /// Bytes of keys and stored values.
    pub bytes: u64,
    /// Requests per second (ops, averaged over the last seconds).
    pub qps: f64,
    /// Whether it could split by load (false: its load is one key's).
    pub splittable: bool,
    /// The index of its freeze entry, if a merge froze it.
    pub frozen_at: Option<u64>,
}

/// A group's Raft membership as its leader sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMembership {
    /// Voters of the effective configuration (all sets of a joint one).
    pub voters: Vec<NodeId>,
    /// Learners.
    pub learners: Vec<NodeId>,
    /// A joint configuration is in effect (a change is half done).
    pub joint: bool,
    /// Log entries each other member is behind the leader's last log entry.
    pub lag: Vec<(NodeId, u64)>,
}

impl GroupMembership {
    /// Whether its leader has a step to take for `members` to become exactly the voter
    /// set: unless the voters are `members` and no learner is left. A joint
    /// configuration needs a step too: openraft does not finish one whose leader was
    /// lost between the two steps; a new leader changing to `members` does.
    pub fn needs_step_towards(&self, members: &[NodeId]) -> bool {
        let same =
            |a: &[NodeId], b: &[NodeId]| a.len() == b.len() && a.iter().all(|n| b.contains(n));
        let settled = self.learners.is_empty() && same(&self.voters, members);
        self.joint || !settled
    }
}

/// A request to a meta member.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum MetaRequest {
    /// The catalog changes after `known_version`, once there are any or `wait_ms` pass.
    GetCatalog {
        /// The version the caller has.
        known_version: u64,
        /// How long to hold the request waiting for a newer version.
        wait_ms: u64,
    },
    /// A storage node announces itself.
    RegisterNode {
        /// Its id.
        id: NodeId,
        /// Its internal RPC address.
        addr: String,
        /// The identity stored in its data directory.
        identity: u64,
    },
    /// Drain a node's replicas onto others, then mark it removed.
    Decommission {
        /// The node.
        id: NodeId,
    },
    /// Create a table: the meta leader records it, and its controller fences the
    /// table's prefix in `default`, then places and creates its ranges.
    CreateTable {
        /// Name.
        name: String,
        /// Replicas per range.
        replicas: u8,
        /// User keys at which ranges begin (besides the table's start).
        splits: Vec<Vec<u8>>,
    },
    /// Drop a table.
    DropTable {
        /// Name.
        name: String,
    },
    /// The storage nodes as the meta leader sees them.
    Nodes,
    /// An operator's split or merge; answered once the new layout serves.
    Reshape(Reshape),
    /// Every range's size and load as the leaders last reported them.
    Loads,
    /// The cluster as the meta leader sees it, for the web console.
    Overview,
    /// A storage node's periodic liveness report.
    Heartbeat {
        /// Its id.
        id: NodeId,
        /// Its replicas.
        replicas: Vec<ReplicaStats>,
    },
}

/// A meta member's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum MetaResponse {
    /// Answer to `GetCatalog`.
    Catalog(CatalogUpdate),
    /// The request was carried out.
    Ok,
    /// Answer to `CreateTable`: the new table's id (the controller creates it next).
    TableId(TableId),
    /// Only the leader does that; it is at `leader_addr` if known.
    NotLeader {
        /// The leader's address.
        leader_addr: Option<String>,
    },
    /// The request was refused.
    Error(String),
    /// Answer to `Nodes`.
    Nodes(Vec<NodeStatus>),
    /// Answer to `Loads`.
    Loads(Vec<(RangeId, RangeLoad)>),
    /// Answer to `Overview`.
    Overview(Overview),
}

/// The cluster as the meta leader sees it (the web console's data).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Overview {
    /// The catalog version it reflects.
    pub catalog_version: u64,
    /// Storage nodes.
    pub nodes: Vec<NodeStatus>,
    /// Active tables' names.
    pub tables: Vec<String>,
    /// Every range, in key order.
    pub ranges: Vec<RangeView>,
    /// Ranges whose group has fewer replicas than its table asks for, or a dead one.
    pub under_replicated: usize,
    /// Ranges whose group has no live majority.
    pub unavailable: usize,
    /// The controller's recent changes, oldest first: (Unix ms, what).
    pub decisions: Vec<(u64, String)>,
}

/// One range, for the console.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RangeView {
    /// Its id.
    pub id: RangeId,
    /// Its table's name.
    pub table: String,
    /// First storage key.
    pub start: Vec<u8>,
    /// Storage key after its last.
    pub end: Vec<u8>,
    /// Its epoch.
    pub epoch: u64,
    /// Its Raft group.
    pub group: GroupId,
    /// The nodes holding replicas.
    pub replicas: Vec<NodeId>,
    /// The leader that last reported it, if one did recently.
    pub leader: Option<NodeId>,
    /// Bytes, as last reported.
    pub bytes: u64,
    /// Requests per second, as last reported.
    pub qps: f64,
}

/// A range change an operator asks for (`SPLIT`, `MERGE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reshape {
    /// Split the range of `table` holding user key `key` so that a range starts at it.
    Split {
        /// The table's name.
        table: String,
        /// The user key.
        key: Vec<u8>,
    },
    /// Merge the range of `table` starting at user key `key` into its left neighbour.
    Merge {
        /// The table's name.
        table: String,
        /// The user key.
        key: Vec<u8>,
    },
}

/// One storage node, for operators.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its id.
    pub id: NodeId,
    /// Its internal address.
    pub addr: String,
    /// `up` if it heartbeated recently, else `down`.
    pub state: String,
    /// `active`, `decommissioning` or `removed`.
    pub lifecycle: String,
    /// Replicas the catalog places on it.
    pub replicas: usize,
    /// Groups it reported leading in its last heartbeat.
    pub leaders: usize,
    /// Replicas it reported asleep (idle groups) in its last heartbeat.
    pub asleep: usize,
}

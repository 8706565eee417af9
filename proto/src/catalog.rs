//! The catalog schema: nodes, tables, ranges and the replication groups serving them,
//! as every part of the cluster sees it.
//!
//! The meta service owns the catalog and changes it only through [`CatalogChange`]s
//! applied in Raft log order; every applied batch of changes bumps
//! [`Catalog::version`] by one. Routers and nodes follow it as a stream of those same
//! batches ([`CatalogUpdate`]), so a catalog of many ranges is not resent whole on each
//! change. Ranges are half-open intervals of *storage keys* (`table id, big-endian` ++
//! user key) and never span two tables.

use crate::keys::{storage_key, table_end, table_start};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::ids::{GroupId, NodeId, RangeId, TableId, DEFAULT_TABLE, DEFAULT_TABLE_ID};

/// A storage node as the catalog knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDesc {
    /// Its id.
    pub id: NodeId,
    /// Its internal RPC address (Raft and data requests).
    pub addr: String,
    /// The random identity its data directory was created with. A node presenting
    /// its id with another identity has lost its data and must not take this id's
    /// place in any group (it could vote twice in a term).
    pub identity: u64,
    /// Where it is in its life cycle.
    pub state: NodeState,
}

/// A storage node's life cycle, as operators drive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeState {
    /// Serving, and eligible for new replicas.
    Active,
    /// `DECOMMISSION`ed: its replicas are being moved away; it gets no new ones.
    Decommissioning,
    /// Drained: it holds no replica and may be stopped; it may not register again.
    Removed,
}

impl NodeState {
    /// The name operators see.
    pub fn name(self) -> &'static str {
        match self {
            NodeState::Active => "active",
            NodeState::Decommissioning => "decommissioning",
            NodeState::Removed => "removed",
        }
    }
}

/// Where a table is in its life: the meta controller moves it along (fencing its
/// key prefix in `default` before it exists, lifting the fence after it is gone), so
/// a client that asked for the change may disappear at any point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TableState {
    /// Requested: the controller fences `name:` in `default`, then creates the ranges.
    Creating,
    /// Serving its keys.
    Active,
    /// Dropped: its ranges are gone; the controller lifts the fence, then forgets it.
    Dropping,
}

/// A table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDesc {
    /// Its id (storage-key prefix).
    pub id: TableId,
    /// Its name.
    pub name: String,
    /// Replicas per range.
    pub replicas: u8,
    /// Its life-cycle state.
    pub state: TableState,
    /// While `Creating`: user keys at which its ranges will begin.
    #[serde(with = "tessera_common::wire_bytes::byte_list")]
    pub splits: Vec<Vec<u8>>,
}

/// A contiguous slice of one table's storage keys, served by one group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RangeDesc {
    /// Its id.
    pub id: RangeId,
    /// The table it belongs to.
    pub table: TableId,
    /// First storage key (inclusive).
    #[serde(with = "serde_bytes")]
    pub start: Vec<u8>,
    /// End storage key (exclusive).
    #[serde(with = "serde_bytes")]
    pub end: Vec<u8>,
    /// Bumped whenever the range's bounds change (splits, merges); a replica refuses
    /// requests routed with another epoch than its own.
    pub epoch: u64,
    /// The group that serves it.
    pub group: GroupId,
}

impl RangeDesc {
    /// Whether `storage_key` falls in this range.
    pub fn contains(&self, storage_key: &[u8]) -> bool {
        self.start.as_slice() <= storage_key && storage_key < self.end.as_slice()
    }
}

/// A replication group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDesc {
    /// Its id.
    pub id: GroupId,
    /// The nodes holding a replica; the first one bootstraps the group.
    pub members: Vec<NodeId>,
    /// Nodes that left the group: a node that left a single-replica group may never
    /// rejoin it (see the meta service's placement rules).
    pub retired: Vec<NodeId>,
    /// How the group came to be, which says where a new replica of it starts.
    pub origin: Origin,
}

/// How a group came to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// Founded with its table. A founding member's replica that starts without a
    /// record starts from the founding range (and replays the group's log from its
    /// first entry, range changes included); any other new replica starts empty and is
    /// sent a snapshot (its leader purges its log before adding it).
    Founded {
        /// The range it was founded with, at epoch 1.
        range: RangeDesc,
        /// Its founding members.
        members: Vec<NodeId>,
    },
    /// Split from `parent`: its replicas start from the state the split wrote on every
    /// replica of the parent, or from a snapshot (its log never holds the entries
    /// before the split).
    Split {
        /// The group it split from.
        parent: GroupId,
    },
}

impl GroupDesc {
    /// The range a replica of this group on `node` starts from when it has no record:
    /// the founding range for a founding member that never left, else `None` (it will
    /// be sent a snapshot).
    pub fn founding_range(&self, node: NodeId) -> Option<&RangeDesc> {
        match &self.origin {
            Origin::Founded { range, members }
                if members.contains(&node) && !self.retired.contains(&node) =>
            {
                Some(range)
            }
            _ => None,
        }
    }
}

/// One change to the catalog. The meta service computes a batch of them per command
/// and applies it; followers of the catalog apply the same batches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CatalogChange {
    /// A node is added or changed.
    Node(NodeDesc),
    /// A table is added or changed.
    Table(TableDesc),
    /// A table is forgotten.
    TableRemoved(TableId),
    /// A range is added or changed.
    Range(RangeDesc),
    /// A range is forgotten.
    RangeRemoved(RangeId),
    /// A group is added or changed.
    Group(GroupDesc),
    /// A group is forgotten, and its replicas' data deleted (its table was dropped).
    GroupRemoved(GroupId),
    /// A group was absorbed by a merge: forgotten, its data now the target's.
    GroupMerged {
        /// The absorbed group.
        source: GroupId,
        /// The group that absorbed it.
        target: GroupId,
    },
    /// Operator-visible counters moved.
    Count(Counter),
    /// A range's start was made by an automatic split (see `Catalog::elastic`).
    Elastic(RangeId),
    /// The id counters moved.
    NextIds {
        /// Next range or group id.
        next_id: u64,
        /// Next table id.
        next_table_id: TableId,
    },
    /// A table creation was refused (kept for the client that asked).
    Refused {
        /// The id the table would have had.
        table: TableId,
        /// Why.
        reason: String,
    },
}

/// What the catalog counts for operators (`INFO tessera`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Counter {
    /// A range split.
    Split,
    /// Two ranges merged.
    Merge,
    /// A replica moved to another node.
    ReplicaMove,
    /// A leader handed over to balance load.
    LeaderTransfer,
}

/// The counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Range splits.
    pub splits: u64,
    /// Range merges.
    pub merges: u64,
    /// Replica moves.
    pub replica_moves: u64,
    /// Leader transfers made by the controller.
    pub leader_transfers: u64,
}

/// How many recent refusals the catalog remembers.
const REFUSALS_KEPT: usize = 64;

/// The catalog itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Bumped by every applied batch of changes.
    pub version: u64,
    /// Registered storage nodes.
    pub nodes: BTreeMap<NodeId, NodeDesc>,
    /// Tables by id.
    pub tables: BTreeMap<TableId, TableDesc>,
    /// Ranges by id.
    pub ranges: BTreeMap<RangeId, RangeDesc>,
    /// Groups by id.
    pub groups: BTreeMap<GroupId, GroupDesc>,
    /// The next id handed to a range or group.
    pub next_id: u64,
    /// The next id handed to a non-default table.
    pub next_table_id: TableId,
    /// Recently refused table creations: table id → reason.
    pub refusals: BTreeMap<TableId, String>,
    /// Groups of dropped tables: their replicas are deleted with their data wherever
    /// they are found. (A group the catalog does not know and did not drop — a split's
    /// new group not recorded yet, a merge's source not absorbed yet on some node — is
    /// left alone.)
    pub dropped_groups: std::collections::BTreeSet<GroupId>,
    /// Groups absorbed by merges: a replica of one left on a node (its target's
    /// replica there caught up by snapshot, past the merge) is stopped without
    /// touching its data, which is the target's now.
    /// Absorbed group → the group that absorbed it.
    pub merged_groups: BTreeMap<GroupId, GroupId>,
    /// Ranges whose start an automatic split made: the controller may merge them back
    /// into their left neighbour when both are cold. Boundaries an operator or a
    /// table's creation made stay.
    pub elastic: std::collections::BTreeSet<RangeId>,
    /// Operator-visible counters.
    pub counters: Counters,
}

/// A batch of changes that took the catalog from `version - 1` to `version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogStep {
    /// The version the batch produced.
    pub version: u64,
    /// The changes.
    pub changes: Vec<CatalogChange>,
}

/// What a follower of the catalog receives: the whole catalog, or the steps after the
/// version it has.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum CatalogUpdate {
    /// The whole catalog.
    Full(Arc<Catalog>),
    /// The batches after the caller's version, in order.
    Steps(Vec<CatalogStep>),
}

impl Catalog {
    /// Applies one batch of changes and bumps the version (an empty batch changes
    /// nothing, not even the version).
    pub fn apply(&mut self, changes: &[CatalogChange]) {
        if changes.is_empty() {
            return;
        }
        for change in changes {
            self.apply_one(change);
        }
        self.version += 1;
    }

    fn apply_one(&mut self, change: &CatalogChange) {
        match change {
            CatalogChange::Node(n) => {
                self.nodes.insert(n.id, n.clone());
            }
            CatalogChange::Table(t) => {
                self.tables.insert(t.id, t.clone());
            }
            CatalogChange::TableRemoved(id) => {
                self.tables.remove(id);
            }
            CatalogChange::Range(r) => {
                self.ranges.insert(r.id, r.clone());
            }
            CatalogChange::RangeRemoved(id) => {
                self.ranges.remove(id);
                self.elastic.remove(id);
            }
            CatalogChange::Elastic(id) => {
                self.elastic.insert(*id);
            }
            CatalogChange::Group(g) => {
                self.groups.insert(g.id, g.clone());
            }
            CatalogChange::GroupRemoved(id) => {
                self.groups.remove(id);
                self.dropped_groups.insert(*id);
            }
            CatalogChange::GroupMerged { source, target } => {
                self.groups.remove(source);
                self.merged_groups.insert(*source, *target);
            }
            CatalogChange::Count(counter) => {
                let c = &mut self.counters;
                match counter {
                    Counter::Split => c.splits += 1,
                    Counter::Merge => c.merges += 1,
                    Counter::ReplicaMove => c.replica_moves += 1,
                    Counter::LeaderTransfer => c.leader_transfers += 1,
                }
            }
            CatalogChange::NextIds {
                next_id,
                next_table_id,
            } => {
                self.next_id = *next_id;
                self.next_table_id = *next_table_id;
            }
            CatalogChange::Refused { table, reason } => {
                self.refusals.insert(*table, reason.clone());
                while self.refusals.len() > REFUSALS_KEPT {
                    self.refusals.pop_first();
                }
            }
        }
    }

    /// Applies `update` on top of this catalog; `false` if the steps do not follow
    /// from this version (the caller should ask for the whole catalog).
    pub fn follow(self: &mut Arc<Self>, update: CatalogUpdate) -> bool {
        match update {
            CatalogUpdate::Full(catalog) => {
                if catalog.version >= self.version {
                    *self = catalog;
                }
                true
            }
            CatalogUpdate::Steps(steps) => {
                let version = self.version;
                let mut fresh = steps.into_iter().filter(|s| s.version > version).peekable();
                match fresh.peek() {
                    None => return true,
                    Some(first) if first.version != version + 1 => return false,
                    Some(_) => {}
                }
                let next = Arc::make_mut(self);
                for step in fresh {
                    next.apply(&step.changes);
                    next.version = step.version;
                }
                true
            }
        }
    }

    /// The table called `name`, whatever its state.
    pub fn table_by_name(&self, name: &str) -> Option<&TableDesc> {
        self.tables.values().find(|t| t.name == name)
    }

    /// The table called `name` if it serves its keys.
    pub fn active_table(&self, name: &str) -> Option<&TableDesc> {
        self.table_by_name(name)
            .filter(|t| t.state == TableState::Active)
    }

    /// The range a group serves.
    pub fn range_of_group(&self, group: GroupId) -> Option<&RangeDesc> {
        self.ranges.values().find(|r| r.group == group)
    }

    /// The groups that have a replica on `node`.
    pub fn groups_on(&self, node: NodeId) -> impl Iterator<Item = &GroupDesc> {
        self.groups
            .values()
            .filter(move |g| g.members.contains(&node))
    }

    /// Replica counts per node.
    pub fn replica_counts(&self) -> BTreeMap<NodeId, usize> {
        let mut counts: BTreeMap<NodeId, usize> = self.nodes.keys().map(|n| (*n, 0)).collect();
        for group in self.groups.values() {
            for member in &group.members {
                *counts.entry(*member).or_default() += 1;
            }
        }
        counts
    }

    /// The ranges of `table` in key order.
    pub fn table_ranges(&self, table: TableId) -> Vec<RangeDesc> {
        let mut ranges: Vec<_> = self
            .ranges
            .values()
            .filter(|r| r.table == table)
            .cloned()
            .collect();
        ranges.sort_by(|a, b| a.start.cmp(&b.start));
        ranges
    }

    /// Maps a user key to (table, storage key): `t:rest` belongs to table `t` when such
    /// a table serves its keys, everything else to `default`.
    pub fn storage_key(&self, user_key: &[u8]) -> (TableId, Vec<u8>) {
        if let Some(colon) = user_key.iter().position(|&b| b == b':') {
            if let Ok(name) = std::str::from_utf8(&user_key[..colon]) {
                if let Some(table) = self.active_table(name).filter(|t| t.id != DEFAULT_TABLE_ID) {
                    return (table.id, storage_key(table.id, &user_key[colon + 1..]));
                }
            }
        }
        (DEFAULT_TABLE_ID, storage_key(DEFAULT_TABLE_ID, user_key))
    }

    /// The user-visible key of a storage key.
    pub fn user_key(&self, storage: &[u8]) -> Vec<u8> {
        let table = storage
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_be_bytes);
        let key = storage.get(4..).unwrap_or_default();
        match self.tables.get(&table) {
            Some(t) if t.id != DEFAULT_TABLE_ID => [t.name.as_bytes(), b":", key].concat(),
            _ => key.to_vec(),
        }
    }

    /// The ranges a new table gets: one starting at the table's first key and one at
    /// each split key, covering the table without gaps.
    pub fn bounds_of_new_table(table: TableId, splits: &[Vec<u8>]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut bounds = vec![table_start(table)];
        bounds.extend(splits.iter().map(|s| storage_key(table, s)));
        bounds.push(table_end(table));
        bounds
            .windows(2)
            .map(|w| (w[0].clone(), w[1].clone()))
            .collect()
    }
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;

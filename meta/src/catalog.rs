//! The catalog: nodes, tables, ranges and the replication groups serving them.
//!
//! It changes only through [`MetaCommand`]s applied in Raft log order, so every meta
//! member holds the same catalog, and every change bumps [`Catalog::version`]. Ranges are
//! half-open intervals of *storage keys* (`table id, big-endian` ++ user key) and never
//! span two tables.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A storage node's identity. Never reused for a node with different data.
pub type NodeId = u64;
/// A replication group's identity.
pub type GroupId = u64;
/// A range's identity.
pub type RangeId = u64;
/// A table's identity; the first four bytes of every storage key.
pub type TableId = u32;

/// The name of the built-in table holding every key that names no other table.
pub const DEFAULT_TABLE: &str = "default";
/// The id of [`DEFAULT_TABLE`].
pub const DEFAULT_TABLE_ID: TableId = 0;

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

/// A table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDesc {
    /// Its id (storage-key prefix).
    pub id: TableId,
    /// Its name.
    pub name: String,
    /// Replicas per range.
    pub replicas: u8,
}

/// A contiguous slice of one table's storage keys, served by one group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeDesc {
    /// Its id.
    pub id: RangeId,
    /// The table it belongs to.
    pub table: TableId,
    /// First storage key (inclusive).
    pub start: Vec<u8>,
    /// End storage key (exclusive).
    pub end: Vec<u8>,
    /// Bumped whenever the range's bounds or group change.
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
    /// Nodes that left the group. See [`Catalog::may_join`] for why it matters.
    pub retired: Vec<NodeId>,
}

/// A change to the catalog, replicated through the meta group's Raft log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum MetaCommand {
    /// A node announces itself (or its new address after a restart).
    RegisterNode {
        /// Its id.
        id: NodeId,
        /// Its internal RPC address.
        addr: String,
        /// The identity stored in its data directory.
        identity: u64,
    },
    /// Change one group's replica set: `remove` leaves it and/or `add` joins it. The
    /// group's leader carries the change out in Raft (learner, catch up, promote).
    MoveReplica {
        /// The group.
        group: GroupId,
        /// The member to take out.
        remove: Option<NodeId>,
        /// The node to add.
        add: Option<NodeId>,
    },
    /// Set a node's life-cycle state.
    SetNodeState {
        /// The node.
        id: NodeId,
        /// Its new state.
        state: NodeState,
    },
    /// Remove a table, its ranges and their groups (replicas are then deleted by the
    /// nodes that hold them).
    DropTable {
        /// The table name.
        name: String,
    },
    /// Create a table whose ranges start at the table's first key and at each split key,
    /// placing range `i` on the nodes `placements[i]`.
    CreateTable {
        /// The table name.
        name: String,
        /// Replicas per range.
        replicas: u8,
        /// User keys at which ranges begin, ascending, without the table's start.
        splits: Vec<Vec<u8>>,
        /// Members of each range's new group.
        placements: Vec<Vec<NodeId>>,
    },
}

/// Why a table name is not acceptable, or `None` if it is: 1 to 64 characters from
/// `A-Z a-z 0-9 _ -` (no `:`, which separates the table from the key).
pub fn table_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 64 {
        return Some(format!(
            "table names are 1 to 64 characters long, '{name}' has {}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Some(format!(
            "table names may only contain letters, digits, '_' and '-', not '{bad}'"
        ));
    }
    None
}

impl std::fmt::Display for MetaCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaCommand::RegisterNode { id, addr, .. } => {
                write!(f, "RegisterNode({id}, {addr})")
            }
            MetaCommand::MoveReplica { group, remove, add } => {
                write!(f, "MoveReplica(group {group}, -{remove:?} +{add:?})")
            }
            MetaCommand::SetNodeState { id, state } => {
                write!(f, "SetNodeState({id}, {})", state.name())
            }
            MetaCommand::CreateTable { name, .. } => write!(f, "CreateTable({name})"),
            MetaCommand::DropTable { name } => write!(f, "DropTable({name})"),
        }
    }
}

/// The catalog itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Bumped by every applied command.
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
}

/// The first storage key of `table`.
pub fn table_start(table: TableId) -> Vec<u8> {
    table.to_be_bytes().to_vec()
}

/// The first storage key after `table`.
pub fn table_end(table: TableId) -> Vec<u8> {
    match table.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    }
}

/// The storage key of `user_key` in `table`.
pub fn storage_key(table: TableId, user_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + user_key.len());
    key.extend_from_slice(&table.to_be_bytes());
    key.extend_from_slice(user_key);
    key
}

impl Catalog {
    /// Applies `cmd`, bumping the version if it changed anything.
    ///
    /// # Errors
    /// A description of why the command is invalid against this catalog; nothing changes.
    pub fn apply(&mut self, cmd: &MetaCommand) -> Result<(), String> {
        match cmd {
            MetaCommand::RegisterNode { id, addr, identity } => {
                let state = match self.nodes.get(id) {
                    Some(known) if known.identity != *identity => {
                        return Err(format!(
                            "node {id} is registered with another data directory; a node \
                             whose data was lost must join under a new id"
                        ))
                    }
                    Some(known) if known.state == NodeState::Removed => {
                        return Err(format!(
                            "node {id} was decommissioned; start it with a new id and \
                             an empty data directory to join again"
                        ))
                    }
                    Some(known) if known.addr == *addr => return Ok(()),
                    Some(known) => known.state,
                    None => NodeState::Active,
                };
                let node = NodeDesc {
                    id: *id,
                    addr: addr.clone(),
                    identity: *identity,
                    state,
                };
                self.nodes.insert(*id, node);
            }
            MetaCommand::MoveReplica { group, remove, add } => {
                self.move_replica(*group, *remove, *add)?;
            }
            MetaCommand::SetNodeState { id, state } => {
                let node = self
                    .nodes
                    .get_mut(id)
                    .ok_or_else(|| format!("no such node {id}"))?;
                if node.state == *state {
                    return Ok(());
                }
                if node.state == NodeState::Removed {
                    return Err(format!("node {id} was removed"));
                }
                node.state = *state;
            }
            MetaCommand::CreateTable {
                name,
                replicas,
                splits,
                placements,
            } => {
                self.create_table(name, *replicas, splits, placements)?;
            }
            MetaCommand::DropTable { name } => self.drop_table(name)?,
        }
        self.version += 1;
        Ok(())
    }

    fn create_table(
        &mut self,
        name: &str,
        replicas: u8,
        splits: &[Vec<u8>],
        placements: &[Vec<NodeId>],
    ) -> Result<(), String> {
        if self.table_by_name(name).is_some() {
            return Err(format!("table '{name}' already exists"));
        }
        if placements.len() != splits.len() + 1 {
            return Err("one placement per range is required".into());
        }
        if splits.windows(2).any(|w| w[0] >= w[1]) || splits.first().is_some_and(|s| s.is_empty()) {
            return Err("split keys must be non-empty and strictly ascending".into());
        }
        let id = if name == DEFAULT_TABLE {
            DEFAULT_TABLE_ID
        } else {
            self.next_table_id = self.next_table_id.max(DEFAULT_TABLE_ID + 1);
            let id = self.next_table_id;
            self.next_table_id += 1;
            id
        };
        self.tables.insert(
            id,
            TableDesc {
                id,
                name: name.to_string(),
                replicas,
            },
        );
        let mut bounds = vec![table_start(id)];
        bounds.extend(splits.iter().map(|s| storage_key(id, s)));
        bounds.push(table_end(id));
        for (i, members) in placements.iter().enumerate() {
            let (group, range) = (self.allocate_id(), self.allocate_id());
            self.groups.insert(
                group,
                GroupDesc {
                    id: group,
                    members: members.clone(),
                    retired: Vec::new(),
                },
            );
            self.ranges.insert(
                range,
                RangeDesc {
                    id: range,
                    table: id,
                    start: bounds[i].clone(),
                    end: bounds[i + 1].clone(),
                    epoch: 1,
                    group,
                },
            );
        }
        Ok(())
    }

    fn move_replica(
        &mut self,
        group: GroupId,
        remove: Option<NodeId>,
        add: Option<NodeId>,
    ) -> Result<(), String> {
        if let Some(add) = add {
            match self.nodes.get(&add) {
                Some(node) if node.state == NodeState::Active => {}
                Some(node) => return Err(format!("node {add} is {}", node.state.name())),
                None => return Err(format!("no such node {add}")),
            }
        }
        if let Some(add) = add {
            if !self.may_join(group, add) {
                return Err(format!(
                    "node {add} left group {group} and cannot rejoin it"
                ));
            }
        }
        let desc = self
            .groups
            .get_mut(&group)
            .ok_or_else(|| format!("no such group {group}"))?;
        if let Some(remove) = remove {
            if !desc.members.contains(&remove) {
                return Err(format!("node {remove} holds no replica of group {group}"));
            }
            if add.is_none() && desc.members.len() == 1 {
                return Err(format!("group {group} would lose its last replica"));
            }
        }
        if let Some(add) = add {
            if desc.members.contains(&add) {
                return Err(format!(
                    "node {add} already holds a replica of group {group}"
                ));
            }
        }
        desc.members.retain(|m| Some(*m) != remove);
        desc.members.extend(add);
        desc.retired.extend(remove);
        Ok(())
    }

    fn drop_table(&mut self, name: &str) -> Result<(), String> {
        let table = match self.table_by_name(name) {
            Some(t) if t.id == DEFAULT_TABLE_ID => {
                return Err("the default table cannot be dropped".into())
            }
            Some(t) => t.id,
            None => return Err(format!("no such table '{name}'")),
        };
        self.tables.remove(&table);
        let ranges: Vec<RangeDesc> = self
            .ranges
            .values()
            .filter(|r| r.table == table)
            .cloned()
            .collect();
        for range in ranges {
            self.ranges.remove(&range.id);
            self.groups.remove(&range.group);
        }
        Ok(())
    }

    /// Replica counts per node, for placement and operators.
    pub fn replica_counts(&self) -> BTreeMap<NodeId, usize> {
        let mut counts: BTreeMap<NodeId, usize> = self.nodes.keys().map(|n| (*n, 0)).collect();
        for group in self.groups.values() {
            for member in &group.members {
                *counts.entry(*member).or_default() += 1;
            }
        }
        counts
    }

    /// Chooses `replicas` distinct nodes among `live` for each of `ranges` new ranges,
    /// least-loaded first (ties by id), counting each choice as it is made.
    ///
    /// The first member of each list founds the group and becomes its first leader, so
    /// it is the chosen node that founds the fewest groups: otherwise, with as many
    /// nodes as replicas, the lowest id would lead every new group.
    ///
    /// # Errors
    /// Fewer live nodes than `replicas`.
    pub fn place(
        &self,
        live: &[NodeId],
        replicas: usize,
        ranges: usize,
    ) -> Result<Vec<Vec<NodeId>>, String> {
        if live.len() < replicas {
            return Err(format!(
                "REPLICAS {replicas} needs {replicas} live nodes, only {} are live",
                live.len()
            ));
        }
        let mut load = self.replica_counts();
        let mut founded: BTreeMap<NodeId, usize> = BTreeMap::new();
        for group in self.groups.values() {
            if let Some(first) = group.members.first() {
                *founded.entry(*first).or_default() += 1;
            }
        }
        let mut placements = Vec::with_capacity(ranges);
        for _ in 0..ranges {
            let mut candidates = live.to_vec();
            candidates.sort_by_key(|n| (load.get(n).copied().unwrap_or(0), *n));
            let mut chosen: Vec<NodeId> = candidates.into_iter().take(replicas).collect();
            for n in &chosen {
                *load.entry(*n).or_default() += 1;
            }
            let founder = (0..chosen.len())
                .min_by_key(|i| (founded.get(&chosen[*i]).copied().unwrap_or(0), chosen[*i]));
            if let Some(i) = founder {
                chosen.swap(0, i);
                *founded.entry(chosen[0]).or_default() += 1;
            }
            placements.push(chosen);
        }
        Ok(placements)
    }

    fn allocate_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The table called `name`.
    pub fn table_by_name(&self, name: &str) -> Option<&TableDesc> {
        self.tables.values().find(|t| t.name == name)
    }

    /// Whether `node` may receive a replica of `group`: it holds none, and it is not
    /// a former member of a single-replica group.
    ///
    /// A node that left a group deleted its replica; joining again, it replays the
    /// group's log from the start and passes through every old membership on the way
    /// (openraft: "node ids must not be reused"). In an old membership where it alone
    /// was a quorum — only single-replica groups have one — it could elect itself
    /// next to the real group. With three or more voters it would need the vote of a
    /// member whose log is newer than its own, which Raft refuses, as long as only
    /// one member joins at a time (the controller's rule).
    pub fn may_join(&self, group: GroupId, node: NodeId) -> bool {
        let Some(desc) = self.groups.get(&group) else {
            return false;
        };
        if desc.members.contains(&node) {
            return false;
        }
        let single = self
            .range_of_group(group)
            .and_then(|r| self.tables.get(&r.table))
            .is_none_or(|t| t.replicas <= 1);
        !(single && desc.retired.contains(&node))
    }

    /// The groups that have a replica on `node`.
    pub fn groups_on(&self, node: NodeId) -> impl Iterator<Item = &GroupDesc> {
        self.groups
            .values()
            .filter(move |g| g.members.contains(&node))
    }

    /// The range a group serves.
    pub fn range_of_group(&self, group: GroupId) -> Option<&RangeDesc> {
        self.ranges.values().find(|r| r.group == group)
    }
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;

//! The rules of the catalog: which [`MetaCommand`]s are valid against it and what
//! [`CatalogChange`]s each makes. The meta state machine applies commands in Raft log
//! order, so every member holds the same catalog; followers receive the same changes.

use serde::{Deserialize, Serialize};
use tessera_proto::catalog::{
    Catalog, CatalogChange, Counter, GroupDesc, GroupId, NodeDesc, NodeId, NodeState, Origin,
    RangeDesc, TableDesc, TableId, TableState, DEFAULT_TABLE, DEFAULT_TABLE_ID,
};

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
    /// Record a table to create (state `Creating`); the controller takes it from there.
    RequestTable {
        /// The table name.
        name: String,
        /// Replicas per range.
        replicas: u8,
        /// User keys at which ranges begin, ascending, without the table's start.
        splits: Vec<Vec<u8>>,
    },
    /// Create the ranges of a `Creating` table, placing range `i` on `placements[i]`,
    /// and make it `Active`.
    ActivateTable {
        /// The table.
        id: TableId,
        /// Members of each range's new group.
        placements: Vec<Vec<NodeId>>,
    },
    /// Give up creating a table (its name's keys exist in `default`).
    RefuseTable {
        /// The table.
        id: TableId,
        /// Why, for the client that asked.
        reason: String,
    },
    /// Remove a table's ranges and groups (replicas are then deleted by the nodes
    /// that hold them); the table stays `Dropping` until the controller lifts its
    /// fence in `default`.
    DropTable {
        /// The table name.
        name: String,
    },
    /// Forget a `Dropping` table.
    ForgetTable {
        /// The table.
        id: TableId,
    },
    /// Hand out `count` consecutive range and group ids (for a split's new range and
    /// group, allocated before the split is proposed).
    AllocateIds {
        /// How many.
        count: u64,
    },
    /// Record a split that a group applied: its range shrank to `parent` and the new
    /// range `child` is served by a new group on `members`. Only a higher epoch than
    /// the catalog's is taken in.
    RecordSplit {
        /// The split range, after the split.
        parent: RangeDesc,
        /// The new range.
        child: RangeDesc,
        /// The new group's replicas (the parent's voters at the split).
        members: Vec<NodeId>,
        /// The controller split on its own (by size or load): it may merge it back.
        automatic: bool,
    },
    /// Record that a range's bounds are unchanged at a higher epoch (a merge's source
    /// frozen, then thawed when the merge was called off).
    RecordEpoch {
        /// The range.
        range: RangeDesc,
    },
    /// Record a merge that a group applied: `target` absorbed `source`.
    RecordMerge {
        /// The absorbing range, after the merge.
        target: RangeDesc,
        /// The absorbed range (frozen).
        source: RangeDesc,
    },
    /// Count a leader transfer the controller made.
    CountLeaderTransfer,
}

impl std::fmt::Display for MetaCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaCommand::RegisterNode { id, addr, .. } => write!(f, "RegisterNode({id}, {addr})"),
            MetaCommand::MoveReplica { group, remove, add } => {
                write!(f, "MoveReplica(group {group}, -{remove:?} +{add:?})")
            }
            MetaCommand::SetNodeState { id, state } => {
                write!(f, "SetNodeState({id}, {})", state.name())
            }
            MetaCommand::RequestTable { name, .. } => write!(f, "RequestTable({name})"),
            MetaCommand::ActivateTable { id, .. } => write!(f, "ActivateTable({id})"),
            MetaCommand::RefuseTable { id, reason } => write!(f, "RefuseTable({id}: {reason})"),
            MetaCommand::DropTable { name } => write!(f, "DropTable({name})"),
            MetaCommand::ForgetTable { id } => write!(f, "ForgetTable({id})"),
            MetaCommand::AllocateIds { count } => write!(f, "AllocateIds({count})"),
            MetaCommand::RecordSplit { parent, child, .. } => write!(
                f,
                "RecordSplit(range {} -> {} + {}, epoch {})",
                parent.id, parent.id, child.id, child.epoch
            ),
            MetaCommand::RecordMerge { target, source } => {
                write!(f, "RecordMerge(range {} absorbs {})", target.id, source.id)
            }
            MetaCommand::RecordEpoch { range } => {
                write!(f, "RecordEpoch(range {}, epoch {})", range.id, range.epoch)
            }
            MetaCommand::CountLeaderTransfer => write!(f, "CountLeaderTransfer"),
        }
    }
}

/// What an applied command answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Applied {
    /// Done (or nothing to do).
    Done,
    /// The id of a requested table.
    Table(TableId),
    /// The first of the ids handed out.
    Ids(u64),
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

/// The catalog's rules, on the catalog schema of `proto`.
pub trait CatalogRules {
    /// The changes `cmd` makes, and its answer.
    ///
    /// # Errors
    /// Why `cmd` is invalid against this catalog (nothing changes).
    fn changes_for(&self, cmd: &MetaCommand) -> Result<(Vec<CatalogChange>, Applied), String>;

    /// Plans and applies `cmd` (bumping the version if it changed anything).
    ///
    /// # Errors
    /// Why `cmd` is invalid; nothing changes.
    fn execute(&mut self, cmd: &MetaCommand) -> Result<Applied, String>;

    /// Whether `node` may receive a replica of `group`.
    fn may_join(&self, group: GroupId, node: NodeId) -> bool;
}

impl CatalogRules for Catalog {
    fn changes_for(&self, cmd: &MetaCommand) -> Result<(Vec<CatalogChange>, Applied), String> {
        let changes = match cmd {
            MetaCommand::RegisterNode { id, addr, identity } => {
                register(self, *id, addr, *identity)?
            }
            MetaCommand::MoveReplica { group, remove, add } => {
                move_replica(self, *group, *remove, *add)?
            }
            MetaCommand::SetNodeState { id, state } => set_node_state(self, *id, *state)?,
            MetaCommand::RequestTable {
                name,
                replicas,
                splits,
            } => return request_table(self, name, *replicas, splits),
            MetaCommand::ActivateTable { id, placements } => activate(self, *id, placements)?,
            MetaCommand::RefuseTable { id, reason } => match self.tables.get(id) {
                Some(t) if t.state == TableState::Creating => vec![
                    CatalogChange::TableRemoved(*id),
                    CatalogChange::Refused {
                        table: *id,
                        reason: reason.clone(),
                    },
                ],
                _ => return Err(format!("table {id} is not being created")),
            },
            MetaCommand::DropTable { name } => drop_table(self, name)?,
            MetaCommand::ForgetTable { id } => match self.tables.get(id) {
                Some(t) if t.state == TableState::Dropping => {
                    vec![CatalogChange::TableRemoved(*id)]
                }
                _ => return Err(format!("table {id} is not being dropped")),
            },
            MetaCommand::AllocateIds { count } => {
                let change = CatalogChange::NextIds {
                    next_id: self.next_id + count,
                    next_table_id: self.next_table_id,
                };
                return Ok((vec![change], Applied::Ids(self.next_id + 1)));
            }
            MetaCommand::RecordSplit {
                parent,
                child,
                members,
                automatic,
            } => {
                let mut changes = record_split(self, parent, child, members)?;
                if *automatic && !changes.is_empty() {
                    changes.push(CatalogChange::Elastic(child.id));
                }
                changes
            }
            MetaCommand::RecordEpoch { range } => record_epoch(self, range)?,
            MetaCommand::RecordMerge { target, source } => record_merge(self, target, source)?,
            MetaCommand::CountLeaderTransfer => vec![CatalogChange::Count(Counter::LeaderTransfer)],
        };
        Ok((changes, Applied::Done))
    }

    fn execute(&mut self, cmd: &MetaCommand) -> Result<Applied, String> {
        let (changes, applied) = self.changes_for(cmd)?;
        self.apply(&changes);
        Ok(applied)
    }

    fn may_join(&self, group: GroupId, node: NodeId) -> bool {
        join_refusal(self, group, node).is_none()
    }
}

/// Why `node` may not receive a replica of `group`, if it may not: it must be a known
/// active node, not a member already, and not a former member of a single-replica
/// group. That last rule: a node that left deletes its replica only after it learns it
/// left; if it dies first, it restarts with its old log, whose last membership may be
/// the one where it alone was a quorum, and could elect itself next to the real group.
/// With three or more voters it would need the vote of a member whose log is newer
/// than its own, which Raft refuses, as long as only one member joins at a time (the
/// controller's rule).
fn join_refusal(catalog: &Catalog, group: GroupId, node: NodeId) -> Option<String> {
    match catalog.nodes.get(&node) {
        Some(n) if n.state == NodeState::Active => {}
        Some(n) => return Some(format!("node {node} is {}", n.state.name())),
        None => return Some(format!("no such node {node}")),
    }
    let Some(desc) = catalog.groups.get(&group) else {
        return Some(format!("no such group {group}"));
    };
    if desc.members.contains(&node) {
        return Some(format!(
            "node {node} already holds a replica of group {group}"
        ));
    }
    let single = catalog
        .range_of_group(group)
        .and_then(|r| catalog.tables.get(&r.table))
        .is_none_or(|t| t.replicas <= 1);
    (single && desc.retired.contains(&node))
        .then(|| format!("node {node} left group {group} and cannot rejoin it"))
}

fn register(
    catalog: &Catalog,
    id: NodeId,
    addr: &str,
    identity: u64,
) -> Result<Vec<CatalogChange>, String> {
    let state = match catalog.nodes.get(&id) {
        Some(known) if known.identity != identity => {
            return Err(format!(
                "node {id} is registered with another data directory; a node whose data \
                 was lost must join under a new id"
            ))
        }
        Some(known) if known.state == NodeState::Removed => {
            return Err(format!(
                "node {id} was decommissioned; start it with a new id and an empty data \
                 directory to join again"
            ))
        }
        Some(known) if known.addr == addr => return Ok(Vec::new()),
        Some(known) => known.state,
        None => NodeState::Active,
    };
    Ok(vec![CatalogChange::Node(NodeDesc {
        id,
        addr: addr.to_string(),
        identity,
        state,
    })])
}

fn set_node_state(
    catalog: &Catalog,
    id: NodeId,
    state: NodeState,
) -> Result<Vec<CatalogChange>, String> {
    let node = catalog
        .nodes
        .get(&id)
        .ok_or_else(|| format!("no such node {id}"))?;
    if node.state == state {
        return Ok(Vec::new());
    }
    if node.state == NodeState::Removed {
        return Err(format!("node {id} was removed"));
    }
    Ok(vec![CatalogChange::Node(NodeDesc {
        state,
        ..node.clone()
    })])
}

fn request_table(
    catalog: &Catalog,
    name: &str,
    replicas: u8,
    splits: &[Vec<u8>],
) -> Result<(Vec<CatalogChange>, Applied), String> {
    if let Some(problem) = table_name_problem(name) {
        return Err(problem);
    }
    if ![1, 3, 5].contains(&replicas) {
        return Err(format!("REPLICAS must be 1, 3 or 5, not {replicas}"));
    }
    if catalog.table_by_name(name).is_some() {
        return Err(format!("table '{name}' already exists"));
    }
    if splits.windows(2).any(|w| w[0] >= w[1]) || splits.first().is_some_and(|s| s.is_empty()) {
        return Err("split keys must be non-empty and strictly ascending".into());
    }
    let mut next_table_id = catalog.next_table_id.max(DEFAULT_TABLE_ID + 1);
    let id = if name == DEFAULT_TABLE {
        DEFAULT_TABLE_ID
    } else {
        next_table_id += 1;
        next_table_id - 1
    };
    let table = TableDesc {
        id,
        name: name.to_string(),
        replicas,
        state: TableState::Creating,
        splits: splits.to_vec(),
    };
    let changes = vec![
        CatalogChange::Table(table),
        CatalogChange::NextIds {
            next_id: catalog.next_id,
            next_table_id,
        },
    ];
    Ok((changes, Applied::Table(id)))
}

fn activate(
    catalog: &Catalog,
    id: TableId,
    placements: &[Vec<NodeId>],
) -> Result<Vec<CatalogChange>, String> {
    let table = match catalog.tables.get(&id) {
        Some(t) if t.state == TableState::Creating => t,
        _ => return Err(format!("table {id} is not being created")),
    };
    let bounds = Catalog::bounds_of_new_table(id, &table.splits);
    if placements.len() != bounds.len() {
        return Err("one placement per range is required".into());
    }
    let mut next_id = catalog.next_id;
    let mut changes = Vec::with_capacity(2 * bounds.len() + 2);
    for ((start, end), members) in bounds.into_iter().zip(placements) {
        let (group, range) = (next_id + 1, next_id + 2);
        next_id += 2;
        let range = RangeDesc {
            id: range,
            table: id,
            start,
            end,
            epoch: 1,
            group,
        };
        changes.push(CatalogChange::Group(GroupDesc {
            id: group,
            members: members.clone(),
            retired: Vec::new(),
            origin: Origin::Founded {
                range: range.clone(),
                members: members.clone(),
            },
        }));
        changes.push(CatalogChange::Range(range));
    }
    changes.push(CatalogChange::Table(TableDesc {
        state: TableState::Active,
        splits: Vec::new(),
        ..table.clone()
    }));
    changes.push(CatalogChange::NextIds {
        next_id,
        next_table_id: catalog.next_table_id,
    });
    Ok(changes)
}

fn move_replica(
    catalog: &Catalog,
    group: GroupId,
    remove: Option<NodeId>,
    add: Option<NodeId>,
) -> Result<Vec<CatalogChange>, String> {
    if let Some(why) = add.and_then(|add| join_refusal(catalog, group, add)) {
        return Err(why);
    }
    let mut desc = catalog
        .groups
        .get(&group)
        .cloned()
        .ok_or_else(|| format!("no such group {group}"))?;
    if let Some(remove) = remove {
        if !desc.members.contains(&remove) {
            return Err(format!("node {remove} holds no replica of group {group}"));
        }
        if add.is_none() && desc.members.len() == 1 {
            return Err(format!("group {group} would lose its last replica"));
        }
    }
    desc.members.retain(|m| Some(*m) != remove);
    desc.members.extend(add);
    desc.retired.extend(remove);
    let mut changes = vec![CatalogChange::Group(desc)];
    if add.is_some() {
        changes.push(CatalogChange::Count(Counter::ReplicaMove));
    }
    Ok(changes)
}

fn drop_table(catalog: &Catalog, name: &str) -> Result<Vec<CatalogChange>, String> {
    let table = match catalog.table_by_name(name) {
        Some(t) if t.id == DEFAULT_TABLE_ID => {
            return Err("the default table cannot be dropped".into())
        }
        Some(t) if t.state == TableState::Active => t,
        _ => return Err(format!("no such table '{name}'")),
    };
    let mut changes = Vec::new();
    for range in catalog.ranges.values().filter(|r| r.table == table.id) {
        changes.push(CatalogChange::RangeRemoved(range.id));
        changes.push(CatalogChange::GroupRemoved(range.group));
    }
    changes.push(CatalogChange::Table(TableDesc {
        state: TableState::Dropping,
        ..table.clone()
    }));
    Ok(changes)
}

mod reshape;
use reshape::{record_epoch, record_merge, record_split};

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;

//! The identities of the cluster's parts, and the built-in `default` table.

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

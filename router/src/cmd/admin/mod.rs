//! Tessera's operator commands: `CREATETABLE`, `DROPTABLE`, `TABLES`, `TABLE INFO`,
//! `RANGES`, `SPLIT`, `MERGE`, `NODES`, `DECOMMISSION`, `COMPACT`, `BACKUP`.
//!
//! Creating and dropping a table is the meta controller's work (it fences the table's
//! prefix in `default` first, so creating a table never changes the meaning of a
//! stored key); these commands ask for it and wait until the new layout serves.

mod backup;
mod compact;
mod createtable;
mod decommission;
mod describe;
mod droptable;
mod nodes;
mod ranges;
mod split;
mod table;
mod tables;

pub use backup::Backup;
pub use compact::Compact;
pub use createtable::CreateTable;
pub use decommission::Decommission;
pub use droptable::DropTable;
pub use nodes::Nodes;
pub use ranges::Ranges;
pub use split::{Merge, Split};
pub use table::Table;
pub use tables::Tables;

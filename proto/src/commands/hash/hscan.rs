//! `HSCAN key cursor [MATCH pattern] [COUNT count]`.

use crate::commands::scan_members::{parse, ScanMembers};
use crate::spec;

crate::alias_command! {
    /// `HSCAN`: a hash's fields and values, in field order.
    HScan: spec! {
        "hscan", -3, ["readonly"], (1, 1, 1), ["@read", "@hash", "@slow"],
        "hash", "2.8.0", "Incrementally iterate hash fields and associated values"
    } => ScanMembers,
    |args| parse(args, 4)
}

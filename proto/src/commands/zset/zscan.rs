//! `ZSCAN key cursor [MATCH pattern] [COUNT count]`.

use crate::commands::scan_members::{parse, ScanMembers};
use crate::spec;

crate::alias_command! {
    /// `ZSCAN`: a sorted set's members and scores, in member order.
    ZScan: spec! {
        "zscan", -3, ["readonly"], (1, 1, 1), ["@read", "@sortedset", "@slow"],
        "sorted-set", "2.8.0", "Incrementally iterate sorted sets elements and associated scores"
    } => ScanMembers,
    |args| parse(args, super::TYPE_ZSET)
}

//! `SSCAN key cursor [MATCH pattern] [COUNT count]`.

use crate::commands::scan_members::{parse, ScanMembers};
use crate::spec;

crate::alias_command! {
    /// `SSCAN`: a set's members, in byte order.
    SScan: spec! {
        "sscan", -3, ["readonly"], (1, 1, 1), ["@read", "@set", "@slow"],
        "set", "2.8.0", "Incrementally iterate Set elements"
    } => ScanMembers,
    |args| parse(args, 2)
}

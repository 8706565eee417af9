//! `SMEMBERS key`.

use crate::spec;

crate::key_command! {
    /// `SMEMBERS`: every member of a set, in byte order.
    SMembers,
    write: false,
    spec! {
        "smembers", 2, ["readonly"], (1, 1, 1), ["@read", "@set", "@slow"],
        "set", "1.0.0", "Get all the members in a set"
    }
}

//! `ZCARD key`.

use crate::spec;

crate::key_command! {
    /// `ZCARD`: the number of members of a sorted set, 0 if it does not exist.
    ZCard,
    write: false,
    spec! {
        "zcard", 2, ["readonly", "fast"], (1, 1, 1), ["@read", "@sortedset", "@fast"],
        "sorted-set", "1.2.0", "Get the number of members in a sorted set"
    }
}

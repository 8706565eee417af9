//! `TYPE key`.

use crate::spec;

crate::key_command! {
    /// `TYPE`: the type of a key's value (`none` if absent).
    Type,
    write: false,
    spec! {
        "type", 2, ["readonly", "fast"], (1, 1, 1), ["@keyspace", "@read", "@fast"],
        "generic", "1.0.0", "Determine the type stored at key"
    }
}

//! `HLEN key`.

use crate::spec;

crate::key_command! {
    /// `HLEN`: the number of fields of a hash, 0 if it does not exist.
    HLen,
    write: false,
    spec! {
        "hlen", 2, ["readonly", "fast"], (1, 1, 1), ["@read", "@hash", "@fast"],
        "hash", "2.0.0", "Get the number of fields in a hash"
    }
}

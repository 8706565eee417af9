//! `SCARD key`.

use crate::spec;

crate::key_command! {
    /// `SCARD`: the number of members of a set, 0 if it does not exist.
    SCard,
    write: false,
    spec! {
        "scard", 2, ["readonly", "fast"], (1, 1, 1), ["@read", "@set", "@fast"],
        "set", "1.0.0", "Get the number of members in a set"
    }
}

//! `GETDEL key`.

use crate::spec;

crate::key_command! {
    /// `GETDEL`: the value of a string key, deleting it.
    GetDel,
    write: true,
    spec! {
        "getdel", 2, ["write", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "6.2.0", "Get the value of a key and delete the key"
    }
}

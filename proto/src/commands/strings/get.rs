//! `GET key`.

use crate::spec;

crate::key_command! {
    /// `GET`: the value of a string key, or nil.
    Get,
    write: false,
    spec! {
        "get", 2, ["readonly", "fast"], (1, 1, 1), ["@read", "@string", "@fast"],
        "string", "1.0.0", "Get the value of a key"
    }
}

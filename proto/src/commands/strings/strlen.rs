//! `STRLEN key`.

use crate::spec;

crate::key_command! {
    /// `STRLEN`: the length of a string value (0 if absent).
    Strlen,
    write: false,
    spec! {
        "strlen", 2, ["readonly", "fast"], (1, 1, 1), ["@read", "@string", "@fast"],
        "string", "2.2.0", "Get the length of the value stored in a key"
    }
}

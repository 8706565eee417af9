//! `PERSIST key`.

use crate::spec;

crate::key_command! {
    /// `PERSIST`: removes a key's expiry, answering 1 if it had one.
    Persist,
    write: true,
    spec! {
        "persist", 2, ["write", "fast"], (1, 1, 1), ["@keyspace", "@write", "@fast"],
        "generic", "2.2.0", "Remove the expiration from a key"
    }
}

//! `RENAME key newkey` and `RENAMENX`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `RENAME` (`nx`: `RENAMENX`): both keys in one range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rename {
    /// The key to move.
    pub from: Bytes,
    /// Its new name.
    pub to: Bytes,
    /// Only if `to` does not exist (answers 1 or 0).
    pub nx: bool,
}

crate::op_kind!(Rename, write: true, key from, to);

impl Command for Rename {
    const SPEC: CommandSpec = spec! {
        "rename", 3, ["write"], (1, 2, 1), ["@keyspace", "@write", "@slow"],
        "generic", "1.0.0", "Rename a key"
    };
    type Parsed = Rename;

    fn parse(args: &mut Args) -> Result<Rename, Reply> {
        Ok(Rename {
            from: args.key()?,
            to: args.key()?,
            nx: false,
        })
    }
}

crate::alias_command! {
    /// `RENAMENX key newkey`.
    RenameNx: spec! {
        "renamenx", 3, ["write", "fast"], (1, 2, 1), ["@keyspace", "@write", "@fast"],
        "generic", "1.0.0", "Rename a key, only if the new key does not exist"
    } => Rename,
    |args| {
        Ok(Rename {
            nx: true,
            ..Rename::parse(args)?
        })
    }
}

//! `COPY source destination [DB 0] [REPLACE]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `COPY`: both keys in one range; Tessera has only database 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Copy {
    /// The source key.
    pub from: Bytes,
    /// The destination key.
    pub to: Bytes,
    /// Overwrite an existing destination.
    pub replace: bool,
}

crate::op_kind!(Copy, write: true, key from, to);

impl Command for Copy {
    const SPEC: CommandSpec = spec! {
        "copy", -3, ["write", "denyoom"], (1, 2, 1), ["@keyspace", "@write", "@slow"],
        "generic", "6.2.0", "Copy a key"
    };
    type Parsed = Copy;

    fn parse(args: &mut Args) -> Result<Copy, Reply> {
        let (from, to) = (args.key()?, args.key()?);
        let mut replace = false;
        while let Some(opt) = args.option() {
            match opt.as_str() {
                "replace" => replace = true,
                "db" if !args.is_empty() => {
                    if args.int()? != 0 {
                        return Err(Reply::err("DB index is out of range"));
                    }
                }
                _ => return Err(syntax_error()),
            }
        }
        Ok(Copy { from, to, replace })
    }
}

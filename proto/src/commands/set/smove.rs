//! `SMOVE source destination member`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Moves a member from one set to another (both keys in one range); 1 if it moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SMove {
    /// The source set.
    pub from: Bytes,
    /// The destination set.
    pub to: Bytes,
    /// The member.
    pub member: Bytes,
}

crate::op_kind!(SMove, write: true, key from, to);

impl Command for SMove {
    const SPEC: CommandSpec = spec! {
        "smove", 4, ["write", "fast"], (1, 2, 1), ["@write", "@set", "@fast"],
        "set", "1.0.0", "Move a member from one set to another"
    };
    type Parsed = SMove;

    fn parse(args: &mut Args) -> Result<SMove, Reply> {
        Ok(SMove {
            from: args.key()?,
            to: args.key()?,
            member: args.value()?,
        })
    }
}

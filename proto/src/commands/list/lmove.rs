//! `LMOVE source destination LEFT|RIGHT LEFT|RIGHT` and `RPOPLPUSH`.

use super::side;
use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Pops an element from one list and pushes it onto another (both keys in one range);
/// answers the element, or nil.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LMove {
    /// The source list.
    pub from: Bytes,
    /// The destination list.
    pub to: Bytes,
    /// Pop from the source's head.
    pub from_left: bool,
    /// Push onto the destination's head.
    pub to_left: bool,
}

crate::op_kind!(LMove, write: true, key from, to);

impl Command for LMove {
    const SPEC: CommandSpec = spec! {
        "lmove", 5, ["write", "denyoom"], (1, 2, 1), ["@write", "@list", "@slow"],
        "list", "6.2.0", "Pop an element from a list, push it to another list and return it"
    };
    type Parsed = LMove;

    fn parse(args: &mut Args) -> Result<LMove, Reply> {
        Ok(LMove {
            from: args.key()?,
            to: args.key()?,
            from_left: side(args)?,
            to_left: side(args)?,
        })
    }
}

crate::alias_command! {
    /// `RPOPLPUSH source destination`.
    RPopLPush: spec! {
        "rpoplpush", 3, ["write", "denyoom"], (1, 2, 1), ["@write", "@list", "@slow"],
        "list", "1.2.0",
        "Remove the last element in a list, prepend it to another list and return it"
    } => LMove,
    |args| Ok(LMove { from: args.key()?, to: args.key()?, from_left: false, to_left: true })
}

//! `LPOP key [count]` and `RPOP`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{wrong_arity, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Removes and answers elements from the head (`left`) or tail: one (or nil) without a
/// count, an array (or a nil array) of up to `count` with one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LPop {
    /// The key.
    pub key: Bytes,
    /// How many, if given.
    pub count: Option<u64>,
    /// From the head.
    pub left: bool,
}

crate::op_kind!(LPop, write: true, key key);

fn parse(args: &mut Args, left: bool) -> Result<LPop, Reply> {
    let key = args.key()?;
    let count = match args.remaining() {
        0 => None,
        1 => Some(args.positive_count()?),
        _ => return Err(wrong_arity(if left { "lpop" } else { "rpop" })),
    };
    Ok(LPop { key, count, left })
}

impl Command for LPop {
    const SPEC: CommandSpec = spec! {
        "lpop", -2, ["write", "fast"], (1, 1, 1), ["@write", "@list", "@fast"],
        "list", "1.0.0", "Remove and get the first elements in a list"
    };
    type Parsed = LPop;

    fn parse(args: &mut Args) -> Result<LPop, Reply> {
        parse(args, true)
    }
}

crate::alias_command! {
    /// `RPOP key [count]`.
    RPop: spec! {
        "rpop", -2, ["write", "fast"], (1, 1, 1), ["@write", "@list", "@fast"],
        "list", "1.0.0", "Remove and get the last elements in a list"
    } => LPop,
    |args| parse(args, false)
}

//! `SPOP key [count]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Removes and answers random members: one (or nil) without a count, up to `count`
/// distinct ones with it. The leader's sequence number and clock in the Raft entry
/// choose them, so every replica removes the same ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SPop {
    /// The key.
    pub key: Bytes,
    /// How many, if given (not negative).
    pub count: Option<u64>,
}

crate::op_kind!(SPop, write: true, key key);

impl Command for SPop {
    const SPEC: CommandSpec = spec! {
        "spop", -2, ["write", "fast"], (1, 1, 1), ["@write", "@set", "@fast"],
        "set", "1.0.0", "Remove and return one or multiple random members from a set"
    };
    type Parsed = SPop;

    fn parse(args: &mut Args) -> Result<SPop, Reply> {
        let key = args.key()?;
        let count = match args.remaining() {
            0 => None,
            1 => Some(args.positive_count()?),
            _ => return Err(crate::reply::syntax_error()),
        };
        Ok(SPop { key, count })
    }
}

//! `ZREM key member [member ...]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Removes members from a sorted set (and the set once empty); answers how many went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZRem {
    /// The key.
    pub key: Bytes,
    /// The members.
    pub members: Vec<Bytes>,
}

crate::op_kind!(ZRem, write: true, key key);

impl Command for ZRem {
    const SPEC: CommandSpec = spec! {
        "zrem", -3, ["write", "fast"], (1, 1, 1), ["@write", "@sortedset", "@fast"],
        "sorted-set", "1.2.0", "Remove one or more members from a sorted set"
    };
    type Parsed = ZRem;

    fn parse(args: &mut Args) -> Result<ZRem, Reply> {
        Ok(ZRem {
            key: args.key()?,
            members: args.rest(),
        })
    }
}

//! `ZRANK key member` and `ZREVRANK key member`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A member's rank (0-based) by ascending score, or descending with `rev`; nil if
/// it is not there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZRank {
    /// The key.
    pub key: Bytes,
    /// The member.
    pub member: Bytes,
    /// Count from the highest score (`ZREVRANK`).
    pub rev: bool,
}

crate::op_kind!(ZRank, write: false, key key);

impl Command for ZRank {
    const SPEC: CommandSpec = spec! {
        "zrank", 3, ["readonly", "fast"], (1, 1, 1), ["@read", "@sortedset", "@fast"],
        "sorted-set", "2.0.0", "Determine the index of a member in a sorted set"
    };
    type Parsed = ZRank;

    fn parse(args: &mut Args) -> Result<ZRank, Reply> {
        Ok(ZRank {
            key: args.key()?,
            member: args.arg()?,
            rev: false,
        })
    }
}

crate::alias_command! {
    /// `ZREVRANK key member`.
    ZRevRank: spec! {
        "zrevrank", 3, ["readonly", "fast"], (1, 1, 1), ["@read", "@sortedset", "@fast"],
        "sorted-set", "2.0.0",
        "Determine the index of a member in a sorted set, with scores ordered from high to low"
    } => ZRank,
    |args| Ok(ZRank { key: args.key()?, member: args.arg()?, rev: true })
}

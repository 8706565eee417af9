//! `ZSCORE key member` and `ZMSCORE key member [member ...]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The scores of members: a double or nil (`ZSCORE`), or an array of those
/// (`ZMSCORE`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZScore {
    /// The key.
    pub key: Bytes,
    /// The members.
    pub members: Vec<Bytes>,
    /// Answer an array (`ZMSCORE`).
    pub many: bool,
}

crate::op_kind!(ZScore, write: false, key key);

impl Command for ZScore {
    const SPEC: CommandSpec = spec! {
        "zscore", 3, ["readonly", "fast"], (1, 1, 1), ["@read", "@sortedset", "@fast"],
        "sorted-set", "1.2.0", "Get the score associated with the given member in a sorted set"
    };
    type Parsed = ZScore;

    fn parse(args: &mut Args) -> Result<ZScore, Reply> {
        Ok(ZScore {
            key: args.key()?,
            members: vec![args.arg()?],
            many: false,
        })
    }
}

crate::alias_command! {
    /// `ZMSCORE key member [member ...]`.
    ZMScore: spec! {
        "zmscore", -3, ["readonly", "fast"], (1, 1, 1), ["@read", "@sortedset", "@fast"],
        "sorted-set", "6.2.0", "Get the score associated with the given members in a sorted set"
    } => ZScore,
    |args| Ok(ZScore { key: args.key()?, members: args.rest(), many: true })
}

//! `ZRANDMEMBER key [count [WITHSCORES]]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Random members: one (or nil) without a count; up to `count` distinct ones, or
/// `-count` possibly repeated ones, with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZRandMember {
    /// The key.
    pub key: Bytes,
    /// How many, if given.
    pub count: Option<i64>,
    /// With scores.
    pub withscores: bool,
}

crate::op_kind!(ZRandMember, write: false, key key);

impl Command for ZRandMember {
    const SPEC: CommandSpec = spec! {
        "zrandmember", -2, ["readonly"], (1, 1, 1), ["@read", "@sortedset", "@slow"],
        "sorted-set", "6.2.0", "Get one or multiple random elements from a sorted set"
    };
    type Parsed = ZRandMember;

    fn parse(args: &mut Args) -> Result<ZRandMember, Reply> {
        let key = args.key()?;
        let count = if args.is_empty() {
            None
        } else {
            let n = args.int()?;
            if n == i64::MIN {
                return Err(Reply::err(crate::number::NOT_AN_INTEGER));
            }
            Some(n)
        };
        let withscores = match args.option().as_deref() {
            None => false,
            Some("withscores") if args.is_empty() => true,
            _ => return Err(syntax_error()),
        };
        Ok(ZRandMember {
            key,
            count,
            withscores,
        })
    }
}

//! `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`.

use super::side;
use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Pops up to `count` elements from the first non-empty list of `keys` (all in one
/// range); answers `[key, [elements]]`, or a nil array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LMPop {
    /// The lists, in order.
    pub keys: Vec<Bytes>,
    /// The same keys as the client named them (the reply names the list it popped).
    pub names: Vec<Bytes>,
    /// From the head.
    pub left: bool,
    /// How many at most.
    pub count: u64,
}

crate::op_kind!(LMPop, write: true, list keys);

impl Command for LMPop {
    const SPEC: CommandSpec = spec! {
        "lmpop", -4, ["write", "movablekeys"], (0, 0, 0), ["@write", "@list", "@slow"],
        "list", "7.0.0", "Pop elements from a list"
    };
    type Parsed = LMPop;

    fn parse(args: &mut Args) -> Result<LMPop, Reply> {
        let keys = args.numkeys_keys()?;
        let left = side(args)?;
        let count = args.mpop_count()?;
        Ok(LMPop {
            names: keys.clone(),
            keys,
            left,
            count,
        })
    }
}

//! `LREM key count element`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Removes up to `count` occurrences of an element (from the tail for a negative
/// count, all for 0); answers how many.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LRem {
    /// The key.
    pub key: Bytes,
    /// How many, and from which end.
    pub count: i64,
    /// The element.
    pub element: Bytes,
}

crate::op_kind!(LRem, write: true, key key);

impl Command for LRem {
    const SPEC: CommandSpec = spec! {
        "lrem", 4, ["write"], (1, 1, 1), ["@write", "@list", "@slow"],
        "list", "1.0.0", "Remove elements from a list"
    };
    type Parsed = LRem;

    fn parse(args: &mut Args) -> Result<LRem, Reply> {
        Ok(LRem {
            key: args.key()?,
            count: args.int()?,
            element: args.arg()?,
        })
    }
}

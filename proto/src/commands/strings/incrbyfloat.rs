//! `INCRBYFLOAT key increment`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `INCRBYFLOAT`: adds to a float string (0 if absent), answering the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncrByFloat {
    /// The key.
    pub key: Bytes,
    /// What to add.
    pub by: f64,
}

crate::op_kind!(IncrByFloat, write: true, key key);

impl Command for IncrByFloat {
    const SPEC: CommandSpec = spec! {
        "incrbyfloat", 3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "2.6.0", "Increment the float value of a key by the given amount"
    };
    type Parsed = IncrByFloat;

    fn parse(args: &mut Args) -> Result<IncrByFloat, Reply> {
        let key = args.key()?;
        Ok(IncrByFloat {
            key,
            by: args.float()?,
        })
    }
}

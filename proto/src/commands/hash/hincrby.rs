//! `HINCRBY key field increment` and `HINCRBYFLOAT`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Adds an integer to a field (0 if absent); answers the new value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HIncrBy {
    /// The key.
    pub key: Bytes,
    /// The field.
    pub field: Bytes,
    /// The increment.
    pub by: i64,
}

crate::op_kind!(HIncrBy, write: true, key key);

impl Command for HIncrBy {
    const SPEC: CommandSpec = spec! {
        "hincrby", 4, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@hash", "@fast"],
        "hash", "2.0.0", "Increment the integer value of a hash field by the given number"
    };
    type Parsed = HIncrBy;

    fn parse(args: &mut Args) -> Result<HIncrBy, Reply> {
        Ok(HIncrBy {
            key: args.key()?,
            field: args.arg()?,
            by: args.int()?,
        })
    }
}

/// Adds a float to a field (0 if absent); answers the new value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HIncrByFloat {
    /// The key.
    pub key: Bytes,
    /// The field.
    pub field: Bytes,
    /// The increment.
    pub by: f64,
}

crate::op_kind!(HIncrByFloat, write: true, key key);

impl Command for HIncrByFloat {
    const SPEC: CommandSpec = spec! {
        "hincrbyfloat", 4, ["write", "denyoom", "fast"], (1, 1, 1),
        ["@write", "@hash", "@fast"],
        "hash", "2.6.0", "Increment the float value of a hash field by the given amount"
    };
    type Parsed = HIncrByFloat;

    fn parse(args: &mut Args) -> Result<HIncrByFloat, Reply> {
        Ok(HIncrByFloat {
            key: args.key()?,
            field: args.arg()?,
            by: args.float()?,
        })
    }
}

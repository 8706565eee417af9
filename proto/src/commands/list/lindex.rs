//! `LINDEX key index` and `LSET key index element`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The element at an index (negative counts from the end), or nil.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LIndex {
    /// The key.
    pub key: Bytes,
    /// The index.
    pub index: i64,
}

crate::op_kind!(LIndex, write: false, key key);

impl Command for LIndex {
    const SPEC: CommandSpec = spec! {
        "lindex", 3, ["readonly"], (1, 1, 1), ["@read", "@list", "@slow"],
        "list", "1.0.0", "Get an element from a list by its index"
    };
    type Parsed = LIndex;

    fn parse(args: &mut Args) -> Result<LIndex, Reply> {
        Ok(LIndex {
            key: args.key()?,
            index: args.int()?,
        })
    }
}

/// Replaces the element at an index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LSet {
    /// The key.
    pub key: Bytes,
    /// The index.
    pub index: i64,
    /// The new element.
    pub element: Bytes,
}

crate::op_kind!(LSet, write: true, key key);

impl Command for LSet {
    const SPEC: CommandSpec = spec! {
        "lset", 4, ["write", "denyoom"], (1, 1, 1), ["@write", "@list", "@slow"],
        "list", "1.0.0", "Set the value of an element in a list by its index"
    };
    type Parsed = LSet;

    fn parse(args: &mut Args) -> Result<LSet, Reply> {
        Ok(LSet {
            key: args.key()?,
            index: args.int()?,
            element: args.value()?,
        })
    }
}

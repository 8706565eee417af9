//! `LRANGE key start stop`, `LTRIM` and `LLEN`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The elements from `start` to `stop` (inclusive; negative counts from the end), or
/// with `trim`, keeps only those (`LTRIM`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LRange {
    /// The key.
    pub key: Bytes,
    /// First index.
    pub start: i64,
    /// Last index.
    pub stop: i64,
    /// Keep only these (`LTRIM`) instead of answering them.
    pub trim: bool,
}

impl crate::op::OpKind for LRange {
    fn is_write(&self) -> bool {
        self.trim
    }
    fn keys(&self) -> Vec<&Bytes> {
        vec![&self.key]
    }
    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        vec![&mut self.key]
    }
}

fn parse(args: &mut Args, trim: bool) -> Result<LRange, Reply> {
    Ok(LRange {
        key: args.key()?,
        start: args.int()?,
        stop: args.int()?,
        trim,
    })
}

impl Command for LRange {
    const SPEC: CommandSpec = spec! {
        "lrange", 4, ["readonly"], (1, 1, 1), ["@read", "@list", "@slow"],
        "list", "1.0.0", "Get a range of elements from a list"
    };
    type Parsed = LRange;

    fn parse(args: &mut Args) -> Result<LRange, Reply> {
        parse(args, false)
    }
}

crate::alias_command! {
    /// `LTRIM key start stop`.
    LTrim: spec! {
        "ltrim", 4, ["write"], (1, 1, 1), ["@write", "@list", "@slow"],
        "list", "1.0.0", "Trim a list to the specified range"
    } => LRange,
    |args| parse(args, true)
}

crate::key_command! {
    /// `LLEN`: the length of a list, 0 if it does not exist.
    LLen,
    write: false,
    spec! {
        "llen", 2, ["readonly", "fast"], (1, 1, 1), ["@read", "@list", "@fast"],
        "list", "1.0.0", "Get the length of a list"
    }
}

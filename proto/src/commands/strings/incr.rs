//! `INCRBY key increment` and the commands that are one: `INCR`, `DECR`, `DECRBY`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `INCRBY`: adds to an integer string (0 if absent), answering the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IncrBy {
    /// The key.
    pub key: Bytes,
    /// What to add.
    pub by: i64,
}

crate::op_kind!(IncrBy, write: true, key key);

impl Command for IncrBy {
    const SPEC: CommandSpec = spec! {
        "incrby", 3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "1.0.0", "Increment the integer value of a key by the given amount"
    };
    type Parsed = IncrBy;

    fn parse(args: &mut Args) -> Result<IncrBy, Reply> {
        let key = args.key()?;
        Ok(IncrBy {
            key,
            by: args.int()?,
        })
    }
}

crate::alias_command! {
    /// `INCR key`.
    Incr: spec! {
        "incr", 2, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "1.0.0", "Increment the integer value of a key by one"
    } => IncrBy,
    |args| {
        Ok(IncrBy {
            key: args.key()?,
            by: 1,
        })
    }
}

crate::alias_command! {
    /// `DECR key`.
    Decr: spec! {
        "decr", 2, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "1.0.0", "Decrement the integer value of a key by one"
    } => IncrBy,
    |args| {
        Ok(IncrBy {
            key: args.key()?,
            by: -1,
        })
    }
}

crate::alias_command! {
    /// `DECRBY key decrement`.
    DecrBy: spec! {
        "decrby", 3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "1.0.0", "Decrement the integer value of a key by the given number"
    } => IncrBy,
    |args| {
        let key = args.key()?;
        match args.int()? {
            i64::MIN => Err(Reply::err("decrement would overflow")),
            by => Ok(IncrBy { key, by: -by }),
        }
    }
}

//! `GETRANGE key start end` and its old name `SUBSTR`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `GETRANGE`: a substring, with Redis's index rules (negative from the end).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetRange {
    /// The key.
    pub key: Bytes,
    /// First byte.
    pub start: i64,
    /// Last byte (inclusive).
    pub end: i64,
}

crate::op_kind!(GetRange, write: false, key key);

impl Command for GetRange {
    const SPEC: CommandSpec = spec! {
        "getrange", 4, ["readonly"], (1, 1, 1), ["@read", "@string", "@slow"],
        "string", "2.4.0", "Get a substring of the string stored at a key"
    };
    type Parsed = GetRange;

    fn parse(args: &mut Args) -> Result<GetRange, Reply> {
        let key = args.key()?;
        let start = args.int()?;
        Ok(GetRange {
            key,
            start,
            end: args.int()?,
        })
    }
}

crate::alias_command! {
    /// `SUBSTR key start end`: `GETRANGE` under its old name.
    Substr: spec! {
        "substr", 4, ["readonly"], (1, 1, 1), ["@read", "@string", "@slow"],
        "string", "1.0.0", "Get a substring of the string stored at a key"
    } => GetRange,
    |args| GetRange::parse(args)
}

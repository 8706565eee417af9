//! `SETRANGE key offset value`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `SETRANGE`: overwrites part of a string (zero-padding it), answering the length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetRange {
    /// The key.
    pub key: Bytes,
    /// Where to write.
    pub offset: i64,
    /// What to write.
    pub value: Bytes,
    /// Longest the result may be (`max-value-bytes`).
    pub max_len: u64,
}

crate::op_kind!(SetRange, write: true, key key);

impl Command for SetRange {
    const SPEC: CommandSpec = spec! {
        "setrange", 4, ["write", "denyoom"], (1, 1, 1), ["@write", "@string", "@slow"],
        "string", "2.2.0", "Overwrite part of a string at key starting at the specified offset"
    };
    type Parsed = SetRange;

    fn parse(args: &mut Args) -> Result<SetRange, Reply> {
        let key = args.key()?;
        let offset = args.int()?;
        Ok(SetRange {
            key,
            offset,
            value: args.arg()?,
            max_len: args.limits.max_value_bytes as u64,
        })
    }
}

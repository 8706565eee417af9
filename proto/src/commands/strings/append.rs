//! `APPEND key value`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `APPEND`: appends to a string (creating it), answering the new length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Append {
    /// The key.
    pub key: Bytes,
    /// What to append.
    pub value: Bytes,
    /// Longest the result may be (`max-value-bytes`).
    pub max_len: u64,
}

crate::op_kind!(Append, write: true, key key);

impl Command for Append {
    const SPEC: CommandSpec = spec! {
        "append", 3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "2.0.0", "Append a value to a key"
    };
    type Parsed = Append;

    fn parse(args: &mut Args) -> Result<Append, Reply> {
        Ok(Append {
            key: args.key()?,
            value: args.arg()?,
            max_len: args.limits.max_value_bytes as u64,
        })
    }
}

//! `HSCAN key cursor [MATCH pattern] [COUNT count]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Iterates a hash's fields and values in field order. A call returns every field
/// after the cursor position (up to a bound far above `COUNT`, which Redis treats as
/// a hint too), so a hash of ordinary size comes back whole with cursor 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HScan {
    /// The key.
    pub key: Bytes,
    /// Where to go on from: 0, or a cursor an earlier call returned.
    pub cursor: u64,
    /// Only fields matching this glob-style pattern.
    pub pattern: Option<Bytes>,
    /// The `COUNT` hint.
    pub count: u64,
}

crate::op_kind!(HScan, write: false, key key);

impl Command for HScan {
    const SPEC: CommandSpec = spec! {
        "hscan", -3, ["readonly"], (1, 1, 1), ["@read", "@hash", "@slow"],
        "hash", "2.8.0", "Incrementally iterate hash fields and associated values"
    };
    type Parsed = HScan;

    fn parse(args: &mut Args) -> Result<HScan, Reply> {
        let key = args.key()?;
        let cursor = args.cursor()?;
        let options = args.scan_options(false)?;
        Ok(HScan {
            key,
            cursor,
            pattern: options.pattern,
            count: options.count,
        })
    }
}

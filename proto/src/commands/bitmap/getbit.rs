//! `GETBIT key offset`.

use super::bit_offset;
use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `GETBIT`: one bit (0 beyond the end of the string or for a missing key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetBit {
    /// The key.
    pub key: Bytes,
    /// The bit.
    pub offset: u64,
}

crate::op_kind!(GetBit, write: false, key key);

impl Command for GetBit {
    const SPEC: CommandSpec = spec! {
        "getbit", 3, ["readonly", "fast"], (1, 1, 1), ["@read", "@bitmap", "@fast"],
        "bitmap", "2.2.0", "Returns the bit value at offset in the string value stored at key"
    };
    type Parsed = GetBit;

    fn parse(args: &mut Args) -> Result<GetBit, Reply> {
        let key = args.key()?;
        let offset = bit_offset(&args.arg()?, None, args.limits.max_value_bytes)?;
        Ok(GetBit { key, offset })
    }
}

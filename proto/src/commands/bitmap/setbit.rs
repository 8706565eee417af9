//! `SETBIT key offset value`.

use super::bit_offset;
use crate::args::Args;
use crate::number::parse_redis_int;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `SETBIT`: sets or clears one bit (growing the string with zeros), answering the bit's
/// previous value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetBit {
    /// The key.
    pub key: Bytes,
    /// The bit (bit 0 is the most significant bit of the first byte).
    pub offset: u64,
    /// The new value.
    pub bit: bool,
}

crate::op_kind!(SetBit, write: true, key key);

impl Command for SetBit {
    const SPEC: CommandSpec = spec! {
        "setbit", 4, ["write", "denyoom"], (1, 1, 1), ["@write", "@bitmap", "@slow"],
        "bitmap", "2.2.0", "Sets or clears the bit at offset in the string value stored at key"
    };
    type Parsed = SetBit;

    fn parse(args: &mut Args) -> Result<SetBit, Reply> {
        let key = args.key()?;
        let offset = bit_offset(&args.arg()?, None, args.limits.max_value_bytes)?;
        let bit = match parse_redis_int(&args.arg()?) {
            Some(0) => false,
            Some(1) => true,
            _ => return Err(Reply::err("bit is not an integer or out of range")),
        };
        Ok(SetBit { key, offset, bit })
    }
}

//! `BITPOS key bit [start [end [BYTE|BIT]]]`.

use super::{clamp, index, unit, Unit};
use crate::args::Args;
use crate::number::parse_redis_int;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `BITPOS`: the first bit set (or clear) in a string or a part of it. The bit is
/// checked first; as in Redis, a missing key answers before the range arguments are
/// looked at, so the node checks those ([`BitPos::bounds`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BitPos {
    /// The key.
    pub key: Bytes,
    /// The bit looked for.
    pub bit: bool,
    /// `[start [end [BYTE|BIT]]]`, unchecked.
    pub range: Vec<Bytes>,
}

crate::op_kind!(BitPos, write: false, key key);

impl Command for BitPos {
    const SPEC: CommandSpec = spec! {
        "bitpos", -3, ["readonly"], (1, 1, 1), ["@read", "@bitmap", "@slow"],
        "bitmap", "2.8.7", "Find first bit set or clear in a string"
    };
    type Parsed = BitPos;

    fn parse(args: &mut Args) -> Result<BitPos, Reply> {
        let key = args.key()?;
        let bit = match parse_redis_int(&args.arg()?) {
            Some(0) => false,
            Some(1) => true,
            Some(_) => return Err(Reply::err("The bit argument must be 1 or 0.")),
            None => return Err(Reply::err(crate::number::NOT_AN_INTEGER)),
        };
        Ok(BitPos {
            key,
            bit,
            range: args.rest(),
        })
    }
}

impl BitPos {
    /// The bits to search in a string of `len` bytes, as an inclusive range of bit
    /// positions (`None`: nothing to search), and whether an end was given (without
    /// one, a string of ones is followed by a zero bit).
    ///
    /// # Errors
    /// Redis's errors for the range arguments.
    pub fn bounds(&self, len: usize) -> Result<(Option<(u64, u64)>, bool), Reply> {
        let len = len as i64;
        let (start, end, unit) = match self.range.as_slice() {
            [] => (0, None, Unit::Byte),
            [start] => (index(start)?, None, Unit::Byte),
            [start, end] => (index(start)?, Some(index(end)?), Unit::Byte),
            [start, end, u] => {
                let start = index(start)?;
                let unit = unit(u)?;
                (start, Some(index(end)?), unit)
            }
            _ => return Err(syntax_error()),
        };
        let given = end.is_some();
        let end = end.unwrap_or(-1);
        let bits = match unit {
            Unit::Bit => clamp(start, end, len * 8),
            Unit::Byte => clamp(start, end, len).map(|(s, e)| (s * 8, e * 8 + 7)),
        };
        Ok((bits, given))
    }
}

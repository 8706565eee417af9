//! `BITCOUNT key [start end [BYTE|BIT]]`.

use super::{clamp, index, Unit};
use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `BITCOUNT`: set bits in a string or a part of it. As in Redis, a missing key answers
/// 0 before the other arguments are looked at, so they are checked by the node, once it
/// knows the key holds a string ([`BitCount::bounds`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BitCount {
    /// The key.
    pub key: Bytes,
    /// `start end [BYTE|BIT]`, unchecked.
    pub range: Vec<Bytes>,
}

crate::op_kind!(BitCount, write: false, key key);

impl Command for BitCount {
    const SPEC: CommandSpec = spec! {
        "bitcount", -2, ["readonly"], (1, 1, 1), ["@read", "@bitmap", "@slow"],
        "bitmap", "2.6.0", "Count set bits in a string"
    };
    type Parsed = BitCount;

    fn parse(args: &mut Args) -> Result<BitCount, Reply> {
        Ok(BitCount {
            key: args.key()?,
            range: args.rest(),
        })
    }
}

impl BitCount {
    /// The bits to count in a string of `len` bytes, as an inclusive range of bit
    /// positions (`None`: nothing to count).
    ///
    /// # Errors
    /// Redis's errors for the range arguments.
    pub fn bounds(&self, len: usize) -> Result<Option<(u64, u64)>, Reply> {
        let len = len as i64;
        let (start, end, unit) = match self.range.as_slice() {
            [] => return Ok(clamp(0, -1, len * 8)),
            [start, end] => (index(start)?, index(end)?, None),
            [start, end, unit] => (index(start)?, index(end)?, Some(unit)),
            _ => return Err(syntax_error()),
        };
        if start < 0 && end < 0 && start > end {
            return Ok(None);
        }
        match unit.map(|u| super::unit(u)).transpose()? {
            Some(Unit::Bit) => Ok(clamp(start, end, len * 8)),
            _ => Ok(clamp(start, end, len).map(|(s, e)| (s * 8, e * 8 + 7))),
        }
    }
}

//! Bitmap commands (Redis's `bitmap` group): bits and bit fields of string values.
//! Offsets obey the value limit as Redis's obey `proto-max-bulk-len`: a bit offset
//! whose byte lies at or beyond `max-value-bytes` is out of range.

mod bitcount;
mod bitfield;
mod bitop;
mod bitpos;
mod getbit;
mod setbit;

pub use bitcount::BitCount;
pub use bitfield::{BitField, BitFieldRo, FieldAction, FieldOp, FieldType, Overflow};
pub use bitop::{BitOp, BitOperation};
pub use bitpos::BitPos;
pub use getbit::GetBit;
pub use setbit::SetBit;

use crate::number::parse_redis_int;
use crate::reply::{syntax_error, Reply};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Redis's error for a bit offset that is not an integer or out of range.
pub const BAD_OFFSET: &str = "bit offset is not an integer or out of range";

/// Reads a bit offset the way Redis's `getBitOffsetFromArgument` does: a non-negative
/// integer whose byte lies below `max_bytes`; with `field_bits` (BITFIELD), `#N` means
/// `N` fields of that width (multiplied with wrapping arithmetic, as Redis does).
///
/// # Errors
/// Redis's offset error.
pub fn bit_offset(arg: &[u8], field_bits: Option<u32>, max_bytes: usize) -> Result<u64, Reply> {
    let bad = || Reply::err(BAD_OFFSET);
    let (hash, digits) = match (arg.first(), field_bits) {
        (Some(b'#'), Some(bits)) => (Some(bits), &arg[1..]),
        _ => (None, arg),
    };
    let mut offset = parse_redis_int(digits).ok_or_else(bad)?;
    if let Some(bits) = hash {
        offset = offset.wrapping_mul(i64::from(bits));
    }
    if offset < 0 || (offset as u64 >> 3) >= max_bytes as u64 {
        return Err(bad());
    }
    Ok(offset as u64)
}

/// Whether BITCOUNT and BITPOS count bytes or bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// `BYTE` (the default).
    Byte,
    /// `BIT`.
    Bit,
}

/// Reads `BYTE` or `BIT`.
///
/// # Errors
/// A syntax error for anything else.
pub fn unit(arg: &[u8]) -> Result<Unit, Reply> {
    // Redis compares with `strcasecmp`, which stops at a NUL byte.
    let word = arg.split(|b| *b == 0).next().unwrap_or_default();
    if word.eq_ignore_ascii_case(b"byte") {
        Ok(Unit::Byte)
    } else if word.eq_ignore_ascii_case(b"bit") {
        Ok(Unit::Bit)
    } else {
        Err(syntax_error())
    }
}

/// An index argument of BITCOUNT or BITPOS.
///
/// # Errors
/// Redis's "value is not an integer or out of range".
pub fn index(arg: &Bytes) -> Result<i64, Reply> {
    parse_redis_int(arg).ok_or_else(|| Reply::err(crate::number::NOT_AN_INTEGER))
}

/// Normalizes an inclusive `[start, end]` over `total` units as Redis does (negative
/// counts from the end, clamped to the value); `None` if the interval is empty.
pub fn clamp(mut start: i64, mut end: i64, total: i64) -> Option<(u64, u64)> {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    (start <= end).then_some((start as u64, end as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_redis_rules() {
        let max = 1 << 20;
        assert_eq!(bit_offset(b"7", None, max), Ok(7));
        assert_eq!(bit_offset(b"8388607", None, max), Ok(8_388_607));
        assert!(bit_offset(b"8388608", None, max).is_err());
        assert!(bit_offset(b"-1", None, max).is_err());
        assert!(bit_offset(b"#1", None, max).is_err(), "no # for SETBIT");
        assert_eq!(bit_offset(b"#2", Some(8), max), Ok(16));
        assert!(bit_offset(b"#-1", Some(8), max).is_err());
        // 2^58 + 1 fields of 64 bits wrap around to bit 64.
        assert_eq!(bit_offset(b"#288230376151711745", Some(64), max), Ok(64));
        assert!(bit_offset(b"#144115188075855872", Some(64), max).is_err());
    }

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp(0, -1, 6), Some((0, 5)));
        assert_eq!(clamp(0, -100, 6), Some((0, 0)));
        assert_eq!(clamp(100, 200, 6), None);
        assert_eq!(clamp(0, -1, 0), None);
        assert_eq!(unit(b"BiT"), Ok(Unit::Bit));
        assert_eq!(unit(b"bit\0x"), Ok(Unit::Bit));
        assert!(unit(b"bits").is_err());
    }
}

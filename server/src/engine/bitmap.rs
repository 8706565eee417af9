//! Bitmap commands, with Redis 7.0's replies and edge cases: bits are numbered from the
//! most significant bit of the first byte; bits past the end of a string read as 0.

use super::{Engine, Found};
use std::io;
use tessera_proto::commands::bitmap::{
    BitCount, BitField, BitOp, BitOperation, BitPos, FieldAction, FieldOp, Overflow,
};
use tessera_proto::reply::Reply;

/// Whether bit `pos` of `buf` is set.
fn bit_at(buf: &[u8], pos: u64) -> bool {
    buf.get((pos >> 3) as usize)
        .is_some_and(|b| b & (0x80 >> (pos & 7)) != 0)
}

/// Sets or clears bit `pos` of `buf`, which holds it.
fn put_bit(buf: &mut [u8], pos: u64, on: bool) {
    let mask = 0x80 >> (pos & 7);
    let byte = &mut buf[(pos >> 3) as usize];
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// Set bits among bits `first..=last` of `buf`.
fn count_bits(buf: &[u8], first: u64, last: u64) -> u64 {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    if first_byte == last_byte {
        return (first..=last).filter(|p| bit_at(buf, *p)).count() as u64;
    }
    let head = (first..(first_byte as u64 + 1) * 8).filter(|p| bit_at(buf, *p));
    let tail = ((last_byte as u64) * 8..=last).filter(|p| bit_at(buf, *p));
    let middle: u64 = buf[first_byte + 1..last_byte]
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    head.count() as u64 + middle + tail.count() as u64
}

/// The value of a field of `bits` bits at `offset` (sign-extended if `signed`).
fn read_field(buf: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    let mut value: u64 = 0;
    for i in 0..u64::from(bits) {
        value = (value << 1) | u64::from(bit_at(buf, offset + i));
    }
    if signed && bits < 64 && value & (1 << (bits - 1)) != 0 {
        value |= !0u64 << bits;
    }
    value as i64
}

/// Writes the low `bits` bits of `value` at `offset`.
fn write_field(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        put_bit(
            buf,
            offset + i,
            (value >> (u64::from(bits) - 1 - i)) & 1 == 1,
        );
    }
}

/// What one field write stores and answers, or `None` if it fails (`OVERFLOW FAIL`).
fn field_write(op: &FieldOp, old: i64) -> Option<(i64, i64)> {
    let bits = op.field.bits;
    let (min, max): (i128, i128) = if op.field.signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let wanted: i128 = match op.action {
        // An unsigned field reads a negative value as a huge one: too large, not small.
        FieldAction::Set(v) if !op.field.signed => i128::from(v as u64),
        FieldAction::Set(v) => i128::from(v),
        FieldAction::IncrBy(by) => i128::from(old) + i128::from(by),
        FieldAction::Get => i128::from(old),
    };
    let stored = if (min..=max).contains(&wanted) {
        wanted
    } else {
        match op.overflow {
            Overflow::Fail => return None,
            Overflow::Sat => wanted.clamp(min, max),
            Overflow::Wrap => {
                let low = wanted.rem_euclid(1i128 << bits);
                if op.field.signed && low > max {
                    low - (1i128 << bits)
                } else {
                    low
                }
            }
        }
    } as i64;
    let reply = match op.action {
        FieldAction::Set(_) => old,
        _ => stored,
    };
    Some((stored, reply))
}

impl Engine<'_> {
    pub(super) fn setbit(&mut self, key: &[u8], offset: u64, on: bool) -> io::Result<Reply> {
        let (mut payload, expiry, existed) = match self.string(key)? {
            Found::WrongType => return Ok(super::wrongtype()),
            Found::Missing => (Vec::new(), None, false),
            Found::Value(v) => (v.payload, v.expires_at_ms, true),
        };
        let byte = (offset >> 3) as usize;
        let grown = payload.len() <= byte;
        if grown {
            payload.resize(byte + 1, 0);
        }
        let old = bit_at(&payload, offset);
        put_bit(&mut payload, offset, on);
        if !existed || grown || old != on {
            self.put(key, payload, expiry);
        }
        Ok(Reply::Int(i64::from(old)))
    }

    pub(super) fn getbit(&mut self, key: &[u8], offset: u64) -> io::Result<Reply> {
        Ok(match self.string(key)? {
            Found::WrongType => super::wrongtype(),
            Found::Missing => Reply::Int(0),
            Found::Value(v) => Reply::Int(i64::from(bit_at(&v.payload, offset))),
        })
    }

    pub(super) fn bitcount(&mut self, op: &BitCount) -> io::Result<Reply> {
        let payload = match self.string(&op.key)? {
            Found::WrongType => return Ok(super::wrongtype()),
            Found::Missing => return Ok(Reply::Int(0)),
            Found::Value(v) => v.payload,
        };
        Ok(match op.bounds(payload.len()) {
            Err(reply) => reply,
            Ok(None) => Reply::Int(0),
            Ok(Some((first, last))) => Reply::Int(count_bits(&payload, first, last) as i64),
        })
    }

    pub(super) fn bitpos(&mut self, op: &BitPos) -> io::Result<Reply> {
        let payload = match self.string(&op.key)? {
            Found::WrongType => return Ok(super::wrongtype()),
            Found::Missing => return Ok(Reply::Int(if op.bit { -1 } else { 0 })),
            Found::Value(v) => v.payload,
        };
        let (bounds, end_given) = match op.bounds(payload.len()) {
            Err(reply) => return Ok(reply),
            Ok(found) => found,
        };
        let Some((first, last)) = bounds else {
            return Ok(Reply::Int(-1));
        };
        if let Some(pos) = (first..=last).find(|p| bit_at(&payload, *p) == op.bit) {
            return Ok(Reply::Int(pos as i64));
        }
        // Without an explicit end, a string of ones is followed by a zero bit.
        let past_the_end = !op.bit && !end_given;
        Ok(Reply::Int(if past_the_end {
            payload.len() as i64 * 8
        } else {
            -1
        }))
    }

    pub(super) fn bitop(&mut self, op: &BitOp) -> io::Result<Reply> {
        let mut sources = Vec::with_capacity(op.sources.len());
        for key in &op.sources {
            match self.string(key)? {
                Found::WrongType => return Ok(super::wrongtype()),
                Found::Missing => sources.push(Vec::new()),
                Found::Value(v) => sources.push(v.payload),
            }
        }
        let len = sources.iter().map(Vec::len).max().unwrap_or(0);
        if len == 0 {
            self.remove(&op.dest);
            return Ok(Reply::Int(0));
        }
        let byte = |src: &Vec<u8>, j: usize| src.get(j).copied().unwrap_or(0);
        let result: Vec<u8> = (0..len)
            .map(|j| {
                let mut bytes = sources.iter().map(|s| byte(s, j));
                let first = bytes.next().unwrap_or(0);
                match op.operation {
                    BitOperation::And => bytes.fold(first, |a, b| a & b),
                    BitOperation::Or => bytes.fold(first, |a, b| a | b),
                    BitOperation::Xor => bytes.fold(first, |a, b| a ^ b),
                    BitOperation::Not => !first,
                }
            })
            .collect();
        self.put(&op.dest, result, None);
        Ok(Reply::Int(len as i64))
    }

    pub(super) fn bitfield(&mut self, op: &BitField) -> io::Result<Reply> {
        let (mut payload, expiry, existed) = match self.string(&op.key)? {
            Found::WrongType => return Ok(super::wrongtype()),
            Found::Missing => (Vec::new(), None, false),
            Found::Value(v) => (v.payload, v.expires_at_ms, true),
        };
        let before = payload.clone();
        // Writes pad the string first, even ones that then fail (as Redis does).
        if let Some(last) = op.highest_written_bit() {
            let needed = (last >> 3) as usize + 1;
            if payload.len() < needed {
                payload.resize(needed, 0);
            }
        }
        let mut replies = Vec::with_capacity(op.ops.len());
        for field_op in &op.ops {
            let field = field_op.field;
            let old = read_field(&payload, field_op.offset, field.bits, field.signed);
            if field_op.action == FieldAction::Get {
                replies.push(Reply::Int(old));
                continue;
            }
            match field_write(field_op, old) {
                None => replies.push(Reply::Nil),
                Some((stored, reply)) => {
                    write_field(&mut payload, field_op.offset, field.bits, stored as u64);
                    replies.push(Reply::Int(reply));
                }
            }
        }
        let created = !existed && op.highest_written_bit().is_some();
        if created || payload != before {
            self.put(&op.key, payload, expiry);
        }
        Ok(Reply::Array(replies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::commands::bitmap::FieldType;

    fn op(action: FieldAction, signed: bool, bits: u32, overflow: Overflow) -> FieldOp {
        FieldOp {
            action,
            field: FieldType { signed, bits },
            offset: 0,
            overflow,
        }
    }

    #[test]
    fn fields_wrap_saturate_and_fail_like_redis() {
        let u8_set = |v, o| field_write(&op(FieldAction::Set(v), false, 8, o), 0);
        assert_eq!(u8_set(256, Overflow::Wrap), Some((0, 0)));
        assert_eq!(u8_set(-1, Overflow::Wrap), Some((255, 0)));
        assert_eq!(
            u8_set(-1, Overflow::Sat),
            Some((255, 0)),
            "negative is too large"
        );
        let i8_set = |v| field_write(&op(FieldAction::Set(v), true, 8, Overflow::Wrap), 0);
        assert_eq!(i8_set(-129), Some((127, 0)));
        assert_eq!(i8_set(200), Some((-56, 0)));
        let incr = |old, by, o| field_write(&op(FieldAction::IncrBy(by), true, 64, o), old);
        assert_eq!(
            incr(i64::MAX, 1, Overflow::Wrap),
            Some((i64::MIN, i64::MIN))
        );
        assert_eq!(incr(i64::MAX, 1, Overflow::Sat), Some((i64::MAX, i64::MAX)));
        assert_eq!(incr(i64::MAX, 1, Overflow::Fail), None);
        let u63 = op(FieldAction::IncrBy(i64::MIN), false, 63, Overflow::Sat);
        assert_eq!(field_write(&u63, i64::MAX), Some((0, 0)));
    }

    #[test]
    fn fields_are_stored_most_significant_bit_first() {
        let mut buf = vec![0u8; 2];
        write_field(&mut buf, 7, 5, 23);
        assert_eq!(buf, [0x01, 0x70]);
        assert_eq!(read_field(&buf, 7, 5, false), 23);
        assert_eq!(read_field(&buf, 7, 5, true), -9);
        assert_eq!(count_bits(b"foobar", 0, 47), 26);
        assert_eq!(count_bits(b"foobar", 5, 30), 17);
    }
}

//! `BITFIELD key [GET type offset | SET type offset value | INCRBY type offset increment
//! | OVERFLOW WRAP|SAT|FAIL] ...` and `BITFIELD_RO key [GET type offset ...]`.

use super::bit_offset;
use crate::args::Args;
use crate::number::{parse_redis_int, NOT_AN_INTEGER};
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What an out-of-range `SET` or `INCRBY` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Overflow {
    /// Keep the low bits (the default).
    #[default]
    Wrap,
    /// Stop at the type's minimum or maximum.
    Sat,
    /// Write nothing and answer nil.
    Fail,
}

/// A field's type: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldType {
    /// Two's complement.
    pub signed: bool,
    /// Width in bits.
    pub bits: u32,
}

/// One subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldAction {
    /// `GET`: the field's value.
    Get,
    /// `SET value`: answers the old value.
    Set(i64),
    /// `INCRBY increment`: answers the new value.
    IncrBy(i64),
}

/// One field operation, with the overflow mode in force where it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldOp {
    /// What to do.
    pub action: FieldAction,
    /// The field's type.
    pub field: FieldType,
    /// Its first bit.
    pub offset: u64,
    /// What an overflow does.
    pub overflow: Overflow,
}

/// `BITFIELD`: several field operations on one string, answered in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BitField {
    /// The key.
    pub key: Bytes,
    /// The operations (`OVERFLOW` folded into the ones after it).
    pub ops: Vec<FieldOp>,
}

impl crate::op::OpKind for BitField {
    fn is_write(&self) -> bool {
        self.ops.iter().any(|op| op.action != FieldAction::Get)
    }
    fn keys(&self) -> Vec<&Bytes> {
        vec![&self.key]
    }
    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        vec![&mut self.key]
    }
}

const BAD_TYPE: &str =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

fn field_type(arg: &[u8]) -> Result<FieldType, Reply> {
    let bad = || Reply::err(BAD_TYPE);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    // Redis reads the width as a C string: it ends at a NUL byte.
    let digits = arg[1..].split(|b| *b == 0).next().unwrap_or_default();
    let bits = parse_redis_int(digits).ok_or_else(bad)?;
    let max = if signed { 64 } else { 63 };
    if !(1..=max).contains(&bits) {
        return Err(bad());
    }
    Ok(FieldType {
        signed,
        bits: bits as u32,
    })
}

/// Whether `arg` is `word`, compared as Redis's `strcasecmp` does (up to a NUL byte).
fn is(arg: &[u8], word: &str) -> bool {
    arg.split(|b| *b == 0)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

impl BitField {
    /// Parses the subcommands after the key, all of them before anything runs.
    fn parse_ops(args: &mut Args) -> Result<Vec<FieldOp>, Reply> {
        let mut ops = Vec::new();
        let mut overflow = Overflow::Wrap;
        while let Ok(sub) = args.arg() {
            let rem = args.remaining();
            let valued = |action: fn(i64) -> FieldAction| Some(action);
            let action = if is(&sub, "get") && rem >= 2 {
                None
            } else if is(&sub, "set") && rem >= 3 {
                valued(FieldAction::Set)
            } else if is(&sub, "incrby") && rem >= 3 {
                valued(FieldAction::IncrBy)
            } else if is(&sub, "overflow") && rem >= 1 {
                let mode = args.arg()?;
                overflow = match () {
                    _ if is(&mode, "wrap") => Overflow::Wrap,
                    _ if is(&mode, "sat") => Overflow::Sat,
                    _ if is(&mode, "fail") => Overflow::Fail,
                    _ => return Err(Reply::err("Invalid OVERFLOW type specified")),
                };
                continue;
            } else {
                return Err(syntax_error());
            };
            let field = field_type(&args.arg()?)?;
            let limit = args.limits.max_value_bytes;
            let offset = bit_offset(&args.arg()?, Some(field.bits), limit)?;
            let action = match action {
                None => FieldAction::Get,
                Some(with_value) => {
                    let value =
                        parse_redis_int(&args.arg()?).ok_or_else(|| Reply::err(NOT_AN_INTEGER))?;
                    with_value(value)
                }
            };
            ops.push(FieldOp {
                action,
                field,
                offset,
                overflow,
            });
        }
        Ok(ops)
    }

    /// The last bit any write touches (`None`: no write).
    pub fn highest_written_bit(&self) -> Option<u64> {
        self.ops
            .iter()
            .filter(|op| op.action != FieldAction::Get)
            .map(|op| op.offset + u64::from(op.field.bits) - 1)
            .max()
    }
}

impl Command for BitField {
    const SPEC: CommandSpec = spec! {
        "bitfield", -2, ["write", "denyoom"], (1, 1, 1), ["@write", "@bitmap", "@slow"],
        "bitmap", "3.2.0", "Perform arbitrary bitfield integer operations on strings"
    };
    type Parsed = BitField;

    fn parse(args: &mut Args) -> Result<BitField, Reply> {
        let key = args.key()?;
        let ops = BitField::parse_ops(args)?;
        Ok(BitField { key, ops })
    }
}

crate::alias_command! {
    /// `BITFIELD_RO`: `BITFIELD` with `GET`s only (the others are parsed, then refused).
    BitFieldRo: spec! {
        "bitfield_ro", -2, ["readonly", "fast"], (1, 1, 1), ["@read", "@bitmap", "@fast"],
        "bitmap", "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD"
    } => BitField,
    |args| {
        let op = BitField::parse(args)?;
        if crate::op::OpKind::is_write(&op) {
            return Err(Reply::err("BITFIELD_RO only supports the GET subcommand"));
        }
        Ok(op)
    }
}

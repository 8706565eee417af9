//! `BITOP AND|OR|XOR|NOT destkey key [key ...]`.

use crate::args::Args;
use crate::op::{Command, OpKind};
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The bitwise operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BitOperation {
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `XOR`.
    Xor,
    /// `NOT` (one source).
    Not,
}

/// `BITOP`: stores the bitwise combination of the sources (missing ones count as empty
/// strings; shorter ones are padded with zeros) at the destination, answering its
/// length; all keys in one range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BitOp {
    /// The operation.
    pub operation: BitOperation,
    /// Where the result goes.
    pub dest: Bytes,
    /// The sources.
    pub sources: Vec<Bytes>,
}

impl OpKind for BitOp {
    fn is_write(&self) -> bool {
        true
    }
    fn keys(&self) -> Vec<&Bytes> {
        std::iter::once(&self.dest).chain(&self.sources).collect()
    }
    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        std::iter::once(&mut self.dest)
            .chain(&mut self.sources)
            .collect()
    }
}

impl Command for BitOp {
    const SPEC: CommandSpec = spec! {
        "bitop", -4, ["write", "denyoom"], (2, -1, 1), ["@write", "@bitmap", "@slow"],
        "bitmap", "2.6.0", "Perform bitwise operations between strings"
    };
    type Parsed = BitOp;

    fn parse(args: &mut Args) -> Result<BitOp, Reply> {
        let name = args.arg()?;
        let word = name.split(|b| *b == 0).next().unwrap_or_default();
        let operation = match word.to_ascii_lowercase().as_slice() {
            b"and" => BitOperation::And,
            b"or" => BitOperation::Or,
            b"xor" => BitOperation::Xor,
            b"not" => BitOperation::Not,
            _ => return Err(syntax_error()),
        };
        let dest = args.key()?;
        let sources = args.rest();
        if operation == BitOperation::Not && sources.len() != 1 {
            return Err(Reply::err(
                "BITOP NOT must be called with a single source key.",
            ));
        }
        Ok(BitOp {
            operation,
            dest,
            sources,
        })
    }
}

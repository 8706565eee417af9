//! `SRANDMEMBER key [count]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Random members: one (or nil) without a count; up to `count` distinct ones for a
/// positive count; exactly `-count`, maybe repeated, for a negative one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SRandMember {
    /// The key.
    pub key: Bytes,
    /// How many, if given.
    pub count: Option<i64>,
}

crate::op_kind!(SRandMember, write: false, key key);

impl Command for SRandMember {
    const SPEC: CommandSpec = spec! {
        "srandmember", -2, ["readonly"], (1, 1, 1), ["@read", "@set", "@slow"],
        "set", "1.0.0", "Get one or multiple random members from a set"
    };
    type Parsed = SRandMember;

    fn parse(args: &mut Args) -> Result<SRandMember, Reply> {
        let key = args.key()?;
        let count = match args.remaining() {
            0 => None,
            1 => Some(args.int()?),
            _ => return Err(syntax_error()),
        };
        Ok(SRandMember { key, count })
    }
}

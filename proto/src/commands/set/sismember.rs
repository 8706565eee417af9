//! `SISMEMBER key member` and `SMISMEMBER key member [member ...]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Whether members belong to a set: 1 or 0 (`SISMEMBER`), or an array of those
/// (`SMISMEMBER`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SIsMember {
    /// The key.
    pub key: Bytes,
    /// The members.
    pub members: Vec<Bytes>,
    /// Answer an array (`SMISMEMBER`).
    pub many: bool,
}

crate::op_kind!(SIsMember, write: false, key key);

impl Command for SIsMember {
    const SPEC: CommandSpec = spec! {
        "sismember", 3, ["readonly", "fast"], (1, 1, 1), ["@read", "@set", "@fast"],
        "set", "1.0.0", "Determine if a given value is a member of a set"
    };
    type Parsed = SIsMember;

    fn parse(args: &mut Args) -> Result<SIsMember, Reply> {
        Ok(SIsMember {
            key: args.key()?,
            members: vec![args.arg()?],
            many: false,
        })
    }
}

crate::alias_command! {
    /// `SMISMEMBER key member [member ...]`.
    SMIsMember: spec! {
        "smismember", -3, ["readonly", "fast"], (1, 1, 1), ["@read", "@set", "@fast"],
        "set", "6.2.0", "Returns the membership associated with the given elements for a set"
    } => SIsMember,
    |args| Ok(SIsMember { key: args.key()?, members: args.rest(), many: true })
}

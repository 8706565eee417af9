//! `SADD key member [member ...]` and `SREM`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Adds members to a set (creating it); answers how many were new.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SAdd {
    /// The key.
    pub key: Bytes,
    /// The members.
    pub members: Vec<Bytes>,
}

crate::op_kind!(SAdd, write: true, key key);

impl Command for SAdd {
    const SPEC: CommandSpec = spec! {
        "sadd", -3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@set", "@fast"],
        "set", "1.0.0", "Add one or more members to a set"
    };
    type Parsed = SAdd;

    fn parse(args: &mut Args) -> Result<SAdd, Reply> {
        let key = args.key()?;
        let mut members = Vec::with_capacity(args.remaining());
        while !args.is_empty() {
            members.push(args.value()?);
        }
        Ok(SAdd { key, members })
    }
}

/// Removes members from a set (and the set once empty); answers how many went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SRem {
    /// The key.
    pub key: Bytes,
    /// The members.
    pub members: Vec<Bytes>,
}

crate::op_kind!(SRem, write: true, key key);

impl Command for SRem {
    const SPEC: CommandSpec = spec! {
        "srem", -3, ["write", "fast"], (1, 1, 1), ["@write", "@set", "@fast"],
        "set", "1.0.0", "Remove one or more members from a set"
    };
    type Parsed = SRem;

    fn parse(args: &mut Args) -> Result<SRem, Reply> {
        Ok(SRem {
            key: args.key()?,
            members: args.rest(),
        })
    }
}

//! `HDEL key field [field ...]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Deletes fields of a hash (and the hash once it is empty); answers how many went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HDel {
    /// The key.
    pub key: Bytes,
    /// The fields.
    pub fields: Vec<Bytes>,
}

crate::op_kind!(HDel, write: true, key key);

impl Command for HDel {
    const SPEC: CommandSpec = spec! {
        "hdel", -3, ["write", "fast"], (1, 1, 1), ["@write", "@hash", "@fast"],
        "hash", "2.0.0", "Delete one or more hash fields"
    };
    type Parsed = HDel;

    fn parse(args: &mut Args) -> Result<HDel, Reply> {
        Ok(HDel {
            key: args.key()?,
            fields: args.rest(),
        })
    }
}

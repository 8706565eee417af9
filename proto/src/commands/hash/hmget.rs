//! `HMGET key field [field ...]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Reads several fields of a hash: their values or nils, in request order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HMGet {
    /// The key.
    pub key: Bytes,
    /// The fields.
    pub fields: Vec<Bytes>,
}

crate::op_kind!(HMGet, write: false, key key);

impl Command for HMGet {
    const SPEC: CommandSpec = spec! {
        "hmget", -3, ["readonly", "fast"], (1, 1, 1), ["@read", "@hash", "@fast"],
        "hash", "2.0.0", "Get the values of all the given hash fields"
    };
    type Parsed = HMGet;

    fn parse(args: &mut Args) -> Result<HMGet, Reply> {
        Ok(HMGet {
            key: args.key()?,
            fields: args.rest(),
        })
    }
}

//! `HGETALL key`, `HKEYS` and `HVALS`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What a whole-hash read lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Listing {
    /// Fields and values: a map (`HGETALL`).
    Pairs,
    /// Fields (`HKEYS`).
    Fields,
    /// Values (`HVALS`).
    Values,
}

/// Lists a whole hash, in field byte order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HGetAll {
    /// The key.
    pub key: Bytes,
    /// What to list.
    pub listing: Listing,
}

crate::op_kind!(HGetAll, write: false, key key);

fn parse(args: &mut Args, listing: Listing) -> Result<HGetAll, Reply> {
    Ok(HGetAll {
        key: args.key()?,
        listing,
    })
}

impl Command for HGetAll {
    const SPEC: CommandSpec = spec! {
        "hgetall", 2, ["readonly"], (1, 1, 1), ["@read", "@hash", "@slow"],
        "hash", "2.0.0", "Get all the fields and values in a hash"
    };
    type Parsed = HGetAll;

    fn parse(args: &mut Args) -> Result<HGetAll, Reply> {
        parse(args, Listing::Pairs)
    }
}

crate::alias_command! {
    /// `HKEYS key`.
    HKeys: spec! {
        "hkeys", 2, ["readonly"], (1, 1, 1), ["@read", "@hash", "@slow"],
        "hash", "2.0.0", "Get all the fields in a hash"
    } => HGetAll,
    |args| parse(args, Listing::Fields)
}

crate::alias_command! {
    /// `HVALS key`.
    HVals: spec! {
        "hvals", 2, ["readonly"], (1, 1, 1), ["@read", "@hash", "@slow"],
        "hash", "2.0.0", "Get all the values in a hash"
    } => HGetAll,
    |args| parse(args, Listing::Values)
}

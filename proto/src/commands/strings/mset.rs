//! `MSET key value [key value ...]` and `MSETNX`.

use crate::args::Args;
use crate::op::{Command, FanOut};
use crate::reply::{wrong_arity, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Key/value pairs, in request order.
pub type Pairs = Vec<(Bytes, Bytes)>;

fn pairs(args: &mut Args, name: &str) -> Result<Pairs, Reply> {
    if !args.remaining().is_multiple_of(2) {
        return Err(wrong_arity(name));
    }
    let mut pairs = Vec::with_capacity(args.remaining() / 2);
    while !args.is_empty() {
        pairs.push((args.key()?, args.value()?));
    }
    Ok(pairs)
}

/// `MSET`: writes every pair; atomic per range, not across ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MSet {
    /// The pairs.
    pub pairs: Pairs,
}

crate::op_kind_pairs!(MSet, write: true, pairs pairs);

impl Command for MSet {
    const SPEC: CommandSpec = spec! {
        "mset", -3, ["write", "denyoom"], (1, -1, 2), ["@write", "@string", "@slow"],
        "string", "1.0.1", "Set multiple keys to multiple values"
    };
    type Parsed = MSet;

    fn parse(args: &mut Args) -> Result<MSet, Reply> {
        pairs(args, "mset").map(|pairs| MSet { pairs })
    }
}

impl FanOut for MSet {
    fn subset(&self, positions: &[usize]) -> Self {
        MSet {
            pairs: positions.iter().map(|&i| self.pairs[i].clone()).collect(),
        }
    }

    fn merge(parts: Vec<(Vec<usize>, Reply)>, _keys: usize) -> Reply {
        parts
            .into_iter()
            .map(|(_, reply)| reply)
            .find(|r| *r != Reply::Ok)
            .unwrap_or(Reply::Ok)
    }
}

/// `MSETNX`: writes every pair only if none of the keys exists (all keys in one
/// range).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MSetNx {
    /// The pairs.
    pub pairs: Pairs,
}

crate::op_kind_pairs!(MSetNx, write: true, pairs pairs);

impl Command for MSetNx {
    const SPEC: CommandSpec = spec! {
        "msetnx", -3, ["write", "denyoom"], (1, -1, 2), ["@write", "@string", "@slow"],
        "string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist"
    };
    type Parsed = MSetNx;

    fn parse(args: &mut Args) -> Result<MSetNx, Reply> {
        pairs(args, "msetnx").map(|pairs| MSetNx { pairs })
    }
}

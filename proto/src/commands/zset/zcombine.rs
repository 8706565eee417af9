//! `ZUNION`, `ZINTER`, `ZDIFF`, their `STORE` forms, and `ZINTERCARD`. All keys must be
//! in one range. Sets are read as sorted sets whose scores are all 1, as Redis does.

use crate::args::Args;
use crate::commands::set::Combine;
use crate::number::parse_redis_double;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// How the scores of a member found in several inputs combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    /// Their sum.
    Sum,
    /// The lowest.
    Min,
    /// The highest.
    Max,
}

/// Combines sorted sets (and sets): answers the result, stores it (answering its size),
/// or counts it (`ZINTERCARD`, stopping at `limit` if not 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZCombine {
    /// How.
    pub how: Combine,
    /// The inputs.
    pub keys: Vec<Bytes>,
    /// One weight per input (scores are multiplied by it).
    pub weights: Vec<f64>,
    /// How scores combine.
    pub aggregate: Aggregate,
    /// Answer the scores too.
    pub withscores: bool,
    /// Where to store the result (the `STORE` forms).
    pub store: Option<Bytes>,
    /// Count only, up to this many if not 0 (`ZINTERCARD`).
    pub count_limit: Option<u64>,
}

crate::op_kind!(ZCombine, store store, list keys);

/// Parses `numkeys key [key ...]` and the options, as Redis's
/// `zunionInterDiffGenericCommand` does; `name` is the command's for its error.
fn combine(
    args: &mut Args,
    how: Combine,
    name: &str,
    store: bool,
    card: bool,
) -> Result<ZCombine, Reply> {
    let dest = if store { Some(args.key()?) } else { None };
    let numkeys = args.int()?;
    if numkeys < 1 {
        return Err(Reply::err(format!(
            "at least 1 input key is needed for '{name}' command"
        )));
    }
    if numkeys as u64 > args.remaining() as u64 {
        return Err(syntax_error());
    }
    let keys = (0..numkeys)
        .map(|_| args.key())
        .collect::<Result<Vec<_>, _>>()?;
    let mut op = ZCombine {
        how,
        weights: vec![1.0; keys.len()],
        keys,
        aggregate: Aggregate::Sum,
        withscores: false,
        store: dest,
        count_limit: card.then_some(0),
    };
    let diff = how == Combine::Diff;
    while let Some(opt) = args.option() {
        let remaining = args.remaining() + 1;
        match opt.as_str() {
            "weights" if !diff && !card && remaining > op.keys.len() => {
                for weight in &mut op.weights {
                    *weight = parse_redis_double(&args.arg()?)
                        .ok_or_else(|| Reply::err("weight value is not a float"))?;
                }
            }
            "aggregate" if !diff && !card && remaining >= 2 => {
                op.aggregate = match args.option().as_deref() {
                    Some("sum") => Aggregate::Sum,
                    Some("min") => Aggregate::Min,
                    Some("max") => Aggregate::Max,
                    _ => return Err(syntax_error()),
                };
            }
            "withscores" if !store && !card => op.withscores = true,
            "limit" if card && remaining >= 2 => {
                let negative = || Reply::err("LIMIT can't be negative");
                let n = args.int().map_err(|_| negative())?;
                let n = u64::try_from(n).map_err(|_| negative())?;
                op.count_limit = Some(n);
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok(op)
}

impl Command for ZCombine {
    const SPEC: CommandSpec = spec! {
        "zunion", -3, ["readonly", "movablekeys"], (0, 0, 0), ["@read", "@sortedset", "@slow"],
        "sorted-set", "6.2.0", "Add multiple sorted sets"
    };
    type Parsed = ZCombine;

    fn parse(args: &mut Args) -> Result<ZCombine, Reply> {
        combine(args, Combine::Union, "zunion", false, false)
    }
}

/// `ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
/// [WITHSCORES]`.
pub type ZUnion = ZCombine;

crate::alias_command! {
    /// `ZINTER numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`.
    ZInter: spec! {
        "zinter", -3, ["readonly", "movablekeys"], (0, 0, 0), ["@read", "@sortedset", "@slow"],
        "sorted-set", "6.2.0", "Intersect multiple sorted sets"
    } => ZCombine,
    |args| combine(args, Combine::Inter, "zinter", false, false)
}

crate::alias_command! {
    /// `ZDIFF numkeys key [key ...] [WITHSCORES]`.
    ZDiff: spec! {
        "zdiff", -3, ["readonly", "movablekeys"], (0, 0, 0), ["@read", "@sortedset", "@slow"],
        "sorted-set", "6.2.0", "Subtract multiple sorted sets"
    } => ZCombine,
    |args| combine(args, Combine::Diff, "zdiff", false, false)
}

crate::alias_command! {
    /// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`.
    ZUnionStore: spec! {
        "zunionstore", -4, ["write", "denyoom", "movablekeys"], (1, 1, 1),
        ["@write", "@sortedset", "@slow"],
        "sorted-set", "2.0.0",
        "Add multiple sorted sets and store the resulting sorted set in a new key"
    } => ZCombine,
    |args| combine(args, Combine::Union, "zunionstore", true, false)
}

crate::alias_command! {
    /// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`.
    ZInterStore: spec! {
        "zinterstore", -4, ["write", "denyoom", "movablekeys"], (1, 1, 1),
        ["@write", "@sortedset", "@slow"],
        "sorted-set", "2.0.0",
        "Intersect multiple sorted sets and store the resulting sorted set in a new key"
    } => ZCombine,
    |args| combine(args, Combine::Inter, "zinterstore", true, false)
}

crate::alias_command! {
    /// `ZDIFFSTORE destination numkeys key [key ...]`.
    ZDiffStore: spec! {
        "zdiffstore", -4, ["write", "denyoom", "movablekeys"], (1, 1, 1),
        ["@write", "@sortedset", "@slow"],
        "sorted-set", "6.2.0",
        "Subtract multiple sorted sets and store the resulting sorted set in a new key"
    } => ZCombine,
    |args| combine(args, Combine::Diff, "zdiffstore", true, false)
}

crate::alias_command! {
    /// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`.
    ZInterCard: spec! {
        "zintercard", -3, ["readonly", "movablekeys"], (0, 0, 0), ["@read", "@sortedset", "@slow"],
        "sorted-set", "7.0.0",
        "Intersect multiple sorted sets and return the cardinality of the result"
    } => ZCombine,
    |args| combine(args, Combine::Inter, "zintercard", false, true)
}

//! `ZUNION`, `ZINTER`, `ZDIFF`, their `STORE` forms, and `ZINTERCARD`. All keys must be
//! in one range. Sets are read as sorted sets whose scores are all 1, as Redis does.

use super::scored_reply;
use crate::args::Args;
use crate::commands::set::Combine;
use crate::number::parse_redis_double;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
impl ZCombine {
    /// Combines the inputs (each a key's members with scores, in key order) into the
    /// result, ordered by score, then member, as Redis replies it.
    pub fn combine(&self, inputs: Vec<Vec<(Vec<u8>, f64)>>) -> Vec<(Vec<u8>, f64)> {
        let aggregate = |into: &mut f64, value: f64| match self.aggregate {
            Aggregate::Sum => {
                *into += value;
                if into.is_nan() {
                    *into = 0.0;
                }
            }
            Aggregate::Min => *into = into.min(value),
            Aggregate::Max => *into = into.max(value),
        };
        let weighted = |i: usize, score: f64| {
            let w = self.weights.get(i).copied().unwrap_or(1.0) * score;
            if w.is_nan() {
                0.0
            } else {
                w
            }
        };
        let mut result: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        match self.how {
            Combine::Union => {
                for (i, input) in inputs.into_iter().enumerate() {
                    for (member, score) in input {
                        let score = weighted(i, score);
                        match result.get_mut(&member) {
                            Some(into) => aggregate(into, score),
                            None => {
                                result.insert(member, score);
                            }
                        }
                    }
                }
            }
            Combine::Inter => {
                let maps: Vec<BTreeMap<Vec<u8>, f64>> = inputs
                    .into_iter()
                    .map(|i| i.into_iter().collect())
                    .collect();
                if let Some((first, rest)) = maps.split_first() {
                    'members: for (member, score) in first {
                        let mut total = weighted(0, *score);
                        for (j, other) in rest.iter().enumerate() {
                            let Some(s) = other.get(member) else {
                                continue 'members;
                            };
                            aggregate(&mut total, weighted(j + 1, *s));
                        }
                        result.insert(member.clone(), total);
                    }
                }
            }
            Combine::Diff => {
                let mut inputs = inputs.into_iter();
                result = inputs.next().unwrap_or_default().into_iter().collect();
                for other in inputs {
                    for (member, _) in other {
                        result.remove(&member);
                    }
                }
            }
        }
        let mut items: Vec<(Vec<u8>, f64)> = result.into_iter().collect();
        items.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        items
    }

    /// The reply of a form that does not store: the count (`ZINTERCARD`) or the
    /// members, with their scores if asked.
    pub fn reply(&self, items: Vec<(Vec<u8>, f64)>) -> Reply {
        match self.count_limit {
            Some(limit) => {
                let n = items.len() as u64;
                Reply::Int(if limit == 0 { n } else { n.min(limit) } as i64)
            }
            None => scored_reply(items, self.withscores),
        }
    }

    /// The per-key read a router runs for each input when the keys live in different
    /// ranges: the key's members with scores (a set's all 1).
    pub fn read_one(&self, key: Bytes) -> ZCombine {
        ZCombine {
            how: Combine::Union,
            keys: vec![key],
            weights: vec![1.0],
            aggregate: Aggregate::Sum,
            withscores: true,
            store: None,
            count_limit: None,
        }
    }
}

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

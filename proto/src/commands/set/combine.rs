//! `SINTER`, `SUNION`, `SDIFF`, their `STORE` forms, and `SINTERCARD`. All keys must be
//! in one range.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How the sets combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Combine {
    /// Members of every set.
    Inter,
    /// Members of any set.
    Union,
    /// Members of the first set and of no other.
    Diff,
}

/// Combines sets: answers the result as a set, stores it (answering its size), or
/// counts it (`SINTERCARD`, stopping at `limit` if not 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SCombine {
    /// How.
    pub how: Combine,
    /// The source sets.
    pub keys: Vec<Bytes>,
    /// Where to store the result (the `STORE` forms).
    pub store: Option<Bytes>,
    /// Count only, up to this many if not 0 (`SINTERCARD`).
    pub count_limit: Option<u64>,
}

crate::op_kind!(SCombine, store store, list keys);

impl SCombine {
    /// Combines the inputs (each a key's members, in key order).
    pub fn combine(&self, sets: Vec<Vec<Vec<u8>>>) -> BTreeSet<Vec<u8>> {
        let mut sets = sets.into_iter();
        let first: BTreeSet<Vec<u8>> = sets.next().unwrap_or_default().into_iter().collect();
        match self.how {
            Combine::Inter => sets.fold(first, |acc, s| {
                let s: BTreeSet<Vec<u8>> = s.into_iter().collect();
                acc.intersection(&s).cloned().collect()
            }),
            Combine::Union => sets.fold(first, |mut acc, s| {
                acc.extend(s);
                acc
            }),
            Combine::Diff => sets.fold(first, |mut acc, s| {
                for m in s {
                    acc.remove(&m);
                }
                acc
            }),
        }
    }

    /// The reply of a form that does not store: the count (`SINTERCARD`) or the set.
    pub fn reply(&self, result: BTreeSet<Vec<u8>>) -> Reply {
        match self.count_limit {
            Some(limit) => {
                let n = result.len() as u64;
                Reply::Int(if limit == 0 { n } else { n.min(limit) } as i64)
            }
            None => Reply::Set(result.into_iter().map(Reply::bulk).collect()),
        }
    }
}

fn read(args: &mut Args, how: Combine) -> Result<SCombine, Reply> {
    Ok(SCombine {
        how,
        keys: args.rest(),
        store: None,
        count_limit: None,
    })
}

fn store(args: &mut Args, how: Combine) -> Result<SCombine, Reply> {
    let store = Some(args.key()?);
    Ok(SCombine {
        store,
        ..read(args, how)?
    })
}

impl Command for SCombine {
    const SPEC: CommandSpec = spec! {
        "sinter", -2, ["readonly"], (1, -1, 1), ["@read", "@set", "@slow"],
        "set", "1.0.0", "Intersect multiple sets"
    };
    type Parsed = SCombine;

    fn parse(args: &mut Args) -> Result<SCombine, Reply> {
        read(args, Combine::Inter)
    }
}

/// `SINTER key [key ...]`.
pub type SInter = SCombine;

crate::alias_command! {
    /// `SUNION key [key ...]`.
    SUnion: spec! {
        "sunion", -2, ["readonly"], (1, -1, 1), ["@read", "@set", "@slow"],
        "set", "1.0.0", "Add multiple sets"
    } => SCombine,
    |args| read(args, Combine::Union)
}

crate::alias_command! {
    /// `SDIFF key [key ...]`.
    SDiff: spec! {
        "sdiff", -2, ["readonly"], (1, -1, 1), ["@read", "@set", "@slow"],
        "set", "1.0.0", "Subtract multiple sets"
    } => SCombine,
    |args| read(args, Combine::Diff)
}

crate::alias_command! {
    /// `SINTERSTORE destination key [key ...]`.
    SInterStore: spec! {
        "sinterstore", -3, ["write", "denyoom"], (1, -1, 1), ["@write", "@set", "@slow"],
        "set", "1.0.0", "Intersect multiple sets and store the resulting set in a key"
    } => SCombine,
    |args| store(args, Combine::Inter)
}

crate::alias_command! {
    /// `SUNIONSTORE destination key [key ...]`.
    SUnionStore: spec! {
        "sunionstore", -3, ["write", "denyoom"], (1, -1, 1), ["@write", "@set", "@slow"],
        "set", "1.0.0", "Add multiple sets and store the resulting set in a key"
    } => SCombine,
    |args| store(args, Combine::Union)
}

crate::alias_command! {
    /// `SDIFFSTORE destination key [key ...]`.
    SDiffStore: spec! {
        "sdiffstore", -3, ["write", "denyoom"], (1, -1, 1), ["@write", "@set", "@slow"],
        "set", "1.0.0", "Subtract multiple sets and store the resulting set in a key"
    } => SCombine,
    |args| store(args, Combine::Diff)
}

crate::alias_command! {
    /// `SINTERCARD numkeys key [key ...] [LIMIT limit]`.
    SInterCard: spec! {
        "sintercard", -3, ["readonly", "movablekeys"], (0, 0, 0), ["@read", "@set", "@slow"],
        "set", "7.0.0", "Intersect multiple sets and return the cardinality of the result"
    } => SCombine,
    |args| {
        let numkeys = args.int().unwrap_or(0);
        if numkeys <= 0 {
            return Err(Reply::err("numkeys should be greater than 0"));
        }
        if numkeys as usize > args.remaining() {
            return Err(Reply::err("Number of keys can't be greater than number of args"));
        }
        let keys = (0..numkeys).map(|_| args.key()).collect::<Result<Vec<_>, _>>()?;
        let mut limit = 0;
        while let Some(opt) = args.option() {
            if opt != "limit" || args.is_empty() {
                return Err(syntax_error());
            }
            let n = args.int()?;
            if n < 0 {
                return Err(Reply::err("LIMIT can't be negative"));
            }
            limit = n as u64;
        }
        Ok(SCombine { how: Combine::Inter, keys, store: None, count_limit: Some(limit) })
    }
}

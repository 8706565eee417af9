//! `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]` and
//! `ZINCRBY key increment member`.

use super::score;
use crate::args::Args;
use crate::number::NOT_A_FLOAT;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Adds members with scores or updates their scores (creating the set). Answers how
/// many were added (or, with `ch`, added or changed); with `incr`, the member's new
/// score, or nil if a condition stopped it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZAdd {
    /// The key.
    pub key: Bytes,
    /// `(score, member)` pairs, in order.
    pub pairs: Vec<(f64, Bytes)>,
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update to a greater score.
    pub gt: bool,
    /// Only update to a lower score.
    pub lt: bool,
    /// Count changed members too.
    pub ch: bool,
    /// Add the score to the member's (one pair only).
    pub incr: bool,
}

crate::op_kind!(ZAdd, write: true, key key);

impl Command for ZAdd {
    const SPEC: CommandSpec = spec! {
        "zadd", -4, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@sortedset", "@fast"],
        "sorted-set", "1.2.0",
        "Add one or more members to a sorted set, or update its score if it already exists"
    };
    type Parsed = ZAdd;

    fn parse(args: &mut Args) -> Result<ZAdd, Reply> {
        let key = args.key()?;
        let mut op = ZAdd {
            key,
            pairs: Vec::new(),
            nx: false,
            xx: false,
            gt: false,
            lt: false,
            ch: false,
            incr: false,
        };
        while let Some(opt) = args.peek_option() {
            let flag = match opt.as_str() {
                "nx" => &mut op.nx,
                "xx" => &mut op.xx,
                "gt" => &mut op.gt,
                "lt" => &mut op.lt,
                "ch" => &mut op.ch,
                "incr" => &mut op.incr,
                _ => break,
            };
            *flag = true;
            args.option();
        }
        let elements = args.remaining();
        if elements == 0 || !elements.is_multiple_of(2) {
            return Err(syntax_error());
        }
        if op.nx && op.xx {
            return Err(Reply::err(
                "XX and NX options at the same time are not compatible",
            ));
        }
        if ((op.gt || op.lt) && op.nx) || (op.gt && op.lt) {
            return Err(Reply::err(
                "GT, LT, and/or NX options at the same time are not compatible",
            ));
        }
        if op.incr && elements > 2 {
            return Err(Reply::err(
                "INCR option supports a single increment-element pair",
            ));
        }
        let raw = args.rest();
        // Every score is checked before any member, as Redis does.
        let scores = raw
            .iter()
            .step_by(2)
            .map(|s| score(s).ok_or_else(|| Reply::err(NOT_A_FLOAT)))
            .collect::<Result<Vec<f64>, Reply>>()?;
        for (s, member) in scores.into_iter().zip(raw.into_iter().skip(1).step_by(2)) {
            op.pairs.push((s, args.sized(member)?));
        }
        Ok(op)
    }
}

crate::alias_command! {
    /// `ZINCRBY key increment member`: `ZADD key INCR increment member`.
    ZIncrBy: spec! {
        "zincrby", 4, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@sortedset", "@fast"],
        "sorted-set", "1.2.0", "Increment the score of a member in a sorted set"
    } => ZAdd,
    |args| {
        let key = args.key()?;
        let by = score(&args.arg()?).ok_or_else(|| Reply::err(NOT_A_FLOAT))?;
        let member = args.value()?;
        Ok(ZAdd {
            key,
            pairs: vec![(by, member)],
            nx: false,
            xx: false,
            gt: false,
            lt: false,
            ch: false,
            incr: true,
        })
    }
}

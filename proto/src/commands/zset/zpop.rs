//! `ZPOPMIN key [count]`, `ZPOPMAX key [count]` and
//! `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`.

use super::min_or_max;
use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Pops up to `count` members with the lowest (or `max`, highest) scores from the
/// first non-empty sorted set of `keys` (all in one range). `ZPOPMIN`/`ZPOPMAX`
/// answer the members and scores; `ZMPOP` (`multi`) answers `[key, [[member, score],
/// ...]]` or a nil array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZPop {
    /// The sorted sets, in order.
    pub keys: Vec<Bytes>,
    /// The same keys as the client named them.
    pub names: Vec<Bytes>,
    /// Pop the highest scores.
    pub max: bool,
    /// How many, if given.
    pub count: Option<u64>,
    /// Answer as `ZMPOP` does.
    pub multi: bool,
}

crate::op_kind!(ZPop, write: true, list keys);

fn single(args: &mut Args, max: bool) -> Result<ZPop, Reply> {
    let key = args.key()?;
    let count = match args.remaining() {
        0 => None,
        1 => Some(args.positive_count()?),
        _ => return Err(syntax_error()),
    };
    Ok(ZPop {
        names: vec![key.clone()],
        keys: vec![key],
        max,
        count,
        multi: false,
    })
}

impl ZPop {
    /// Parses `numkeys key [key ...] MIN|MAX [COUNT count]` (`ZMPOP`, `BZMPOP`).
    ///
    /// # Errors
    /// Redis's numkeys, syntax and count errors.
    pub fn parse_multi(args: &mut Args) -> Result<ZPop, Reply> {
        let keys = args.numkeys_keys()?;
        let max = min_or_max(args)?;
        let count = args.mpop_count()?;
        Ok(ZPop {
            names: keys.clone(),
            keys,
            max,
            count: Some(count),
            multi: true,
        })
    }
}

impl Command for ZPop {
    const SPEC: CommandSpec = spec! {
        "zpopmin", -2, ["write", "fast"], (1, 1, 1), ["@write", "@sortedset", "@fast"],
        "sorted-set", "5.0.0", "Remove and return members with the lowest scores in a sorted set"
    };
    type Parsed = ZPop;

    fn parse(args: &mut Args) -> Result<ZPop, Reply> {
        single(args, false)
    }
}

/// `ZPOPMIN key [count]`.
pub type ZPopMin = ZPop;

crate::alias_command! {
    /// `ZPOPMAX key [count]`.
    ZPopMax: spec! {
        "zpopmax", -2, ["write", "fast"], (1, 1, 1), ["@write", "@sortedset", "@fast"],
        "sorted-set", "5.0.0", "Remove and return members with the highest scores in a sorted set"
    } => ZPop,
    |args| single(args, true)
}

crate::alias_command! {
    /// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`.
    ZMPop: spec! {
        "zmpop", -4, ["write", "movablekeys"], (0, 0, 0), ["@write", "@sortedset", "@slow"],
        "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set"
    } => ZPop,
    ZPop::parse_multi
}

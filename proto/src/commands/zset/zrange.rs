//! `ZRANGE` and every command that reads, counts, stores or removes a range of a sorted
//! set by rank, score or member: `ZRANGEBYSCORE`, `ZRANGEBYLEX`, `ZREVRANGE`,
//! `ZREVRANGEBYSCORE`, `ZREVRANGEBYLEX`, `ZRANGESTORE`, `ZCOUNT`, `ZLEXCOUNT`,
//! `ZREMRANGEBYRANK`, `ZREMRANGEBYSCORE`, `ZREMRANGEBYLEX`.

use crate::args::Args;
use crate::op::{Command, OpKind};
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// One end of a score range.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoreBound {
    /// The score (`-inf`/`inf` for an open end).
    pub value: f64,
    /// Whether the score itself is excluded (`(1.5`).
    pub open: bool,
}

/// One end of a member range (`-`, `+`, `[member`, `(member`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LexBound {
    /// Below every member (`-`).
    Min,
    /// Above every member (`+`).
    Max,
    /// From or to this member, included (`[`).
    Closed(Bytes),
    /// From or to this member, excluded (`(`).
    Open(Bytes),
}

/// Which members a range selects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ZBy {
    /// By rank, `start` to `stop` inclusive (negative: from the end).
    Rank {
        /// First rank.
        start: i64,
        /// Last rank.
        stop: i64,
    },
    /// By score.
    Score {
        /// Lower end.
        min: ScoreBound,
        /// Upper end.
        max: ScoreBound,
    },
    /// By member (meaningful when all scores are equal).
    Lex {
        /// Lower end.
        min: LexBound,
        /// Upper end.
        max: LexBound,
    },
}

/// What to do with the selected members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ZRangeAct {
    /// Answer them (with their scores if asked).
    Read {
        /// With scores.
        withscores: bool,
    },
    /// Store them in `dest` (replacing it) and answer how many (`ZRANGESTORE`).
    Store {
        /// The destination key (in the source's range).
        dest: Bytes,
    },
    /// Answer how many (`ZCOUNT`, `ZLEXCOUNT`).
    Count,
    /// Remove them and answer how many (`ZREMRANGEBY*`).
    Remove,
}

/// A range of a sorted set, read, counted, stored or removed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZRange {
    /// The key.
    pub key: Bytes,
    /// Which members.
    pub by: ZBy,
    /// From the highest score down.
    pub rev: bool,
    /// `LIMIT offset count` (a negative count: no limit).
    pub limit: (i64, i64),
    /// What to do with them.
    pub act: ZRangeAct,
}

impl OpKind for ZRange {
    fn is_write(&self) -> bool {
        matches!(self.act, ZRangeAct::Store { .. } | ZRangeAct::Remove)
    }
    fn keys(&self) -> Vec<&Bytes> {
        let mut keys = vec![&self.key];
        if let ZRangeAct::Store { dest } = &self.act {
            keys.push(dest);
        }
        keys
    }
    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        let mut keys = vec![&mut self.key];
        if let ZRangeAct::Store { dest } = &mut self.act {
            keys.push(dest);
        }
        keys
    }
}

/// How a range is given.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

/// Parses a score bound as Redis's `zslParseRange` reads one (`strtod`, so leading
/// spaces pass and an empty number is 0).
fn score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (open, text) = match arg.split_first() {
        Some((b'(', rest)) => (true, rest),
        _ => (false, arg),
    };
    let text = std::str::from_utf8(text).ok()?.trim_start();
    let value = if text.is_empty() {
        0.0
    } else {
        text.parse::<f64>().ok().filter(|v| !v.is_nan())?
    };
    Some(ScoreBound { value, open })
}

fn lex_bound(arg: &Bytes) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::Max),
        b'-' if arg.len() == 1 => Some(LexBound::Min),
        b'[' => Some(LexBound::Closed(arg.slice(1..))),
        b'(' => Some(LexBound::Open(arg.slice(1..))),
        _ => None,
    }
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ZBy, Reply> {
    match (score_bound(min), score_bound(max)) {
        (Some(min), Some(max)) => Ok(ZBy::Score { min, max }),
        _ => Err(Reply::err("min or max is not a float")),
    }
}

fn lex_range(min: &Bytes, max: &Bytes) -> Result<ZBy, Reply> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(ZBy::Lex { min, max }),
        _ => Err(Reply::err("min or max not valid string range item")),
    }
}

fn rank_range(start: &[u8], stop: &[u8]) -> Result<ZBy, Reply> {
    let int = |arg: &[u8]| {
        crate::number::parse_redis_int(arg).ok_or_else(|| Reply::err(crate::number::NOT_AN_INTEGER))
    };
    Ok(ZBy::Rank {
        start: int(start)?,
        stop: int(stop)?,
    })
}

/// Parses the range commands as Redis's `zrangeGenericCommand` does: `kind` and
/// `rev` fixed by the command, or (`None`) chosen by `BYSCORE`/`BYLEX`/`REV`.
fn range(
    args: &mut Args,
    store: bool,
    kind: Option<Kind>,
    rev: Option<bool>,
) -> Result<ZRange, Reply> {
    let dest = if store { Some(args.key()?) } else { None };
    let key = args.key()?;
    let (mut min, mut max) = (args.arg()?, args.arg()?);
    let (mut kind, mut rev) = (kind, rev);
    let (mut withscores, mut limit) = (false, (0, -1));
    while let Some(opt) = args.option() {
        match opt.as_str() {
            "withscores" if !store => withscores = true,
            "limit" if args.remaining() >= 2 => limit = (args.int()?, args.int()?),
            "rev" if rev.is_none() => rev = Some(true),
            "bylex" if kind.is_none() => kind = Some(Kind::Lex),
            "byscore" if kind.is_none() => kind = Some(Kind::Score),
            _ => return Err(syntax_error()),
        }
    }
    let (kind, rev) = (kind.unwrap_or(Kind::Rank), rev.unwrap_or(false));
    if limit.1 != -1 && kind == Kind::Rank {
        return Err(Reply::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == Kind::Lex {
        return Err(Reply::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if rev && kind != Kind::Rank {
        // Given as `max min`.
        std::mem::swap(&mut min, &mut max);
    }
    let by = match kind {
        Kind::Rank => rank_range(&min, &max)?,
        Kind::Score => score_range(&min, &max)?,
        Kind::Lex => lex_range(&min, &max)?,
    };
    let act = match dest {
        Some(dest) => ZRangeAct::Store { dest },
        None => ZRangeAct::Read { withscores },
    };
    Ok(ZRange {
        key,
        by,
        rev,
        limit,
        act,
    })
}

/// `ZCOUNT`, `ZLEXCOUNT`, `ZREMRANGEBY*`: `key min max`, nothing else.
fn whole(args: &mut Args, kind: Kind, act: ZRangeAct) -> Result<ZRange, Reply> {
    let key = args.key()?;
    let (min, max) = (args.arg()?, args.arg()?);
    let by = match kind {
        Kind::Rank => rank_range(&min, &max)?,
        Kind::Score => score_range(&min, &max)?,
        Kind::Lex => lex_range(&min, &max)?,
    };
    Ok(ZRange {
        key,
        by,
        rev: false,
        limit: (0, -1),
        act,
    })
}

impl Command for ZRange {
    const SPEC: CommandSpec = spec! {
        "zrange", -4, ["readonly"], (1, 1, 1), ["@read", "@sortedset", "@slow"],
        "sorted-set", "1.2.0", "Return a range of members in a sorted set"
    };
    type Parsed = ZRange;

    fn parse(args: &mut Args) -> Result<ZRange, Reply> {
        range(args, false, None, None)
    }
}

crate::alias_command! {
    /// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`.
    ZRangeByScore: spec! {
        "zrangebyscore", -4, ["readonly"], (1, 1, 1), ["@read", "@sortedset", "@slow"],
        "sorted-set", "1.0.5", "Return a range of members in a sorted set, by score"
    } => ZRange,
    |args| range(args, false, Some(Kind::Score), Some(false))
}

crate::alias_command! {
    /// `ZRANGEBYLEX key min max [LIMIT offset count]`.
    ZRangeByLex: spec! {
        "zrangebylex", -4, ["readonly"], (1, 1, 1), ["@read", "@sortedset", "@slow"],
        "sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range"
    } => ZRange,
    |args| range(args, false, Some(Kind::Lex), Some(false))
}

crate::alias_command! {
    /// `ZREVRANGE key start stop [WITHSCORES]`.
    ZRevRange: spec! {
        "zrevrange", -4, ["readonly"], (1, 1, 1), ["@read", "@sortedset", "@slow"],
        "sorted-set", "1.2.0",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low"
    } => ZRange,
    |args| range(args, false, Some(Kind::Rank), Some(true))
}

crate::alias_command! {
    /// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`.
    ZRevRangeByScore: spec! {
        "zrevrangebyscore", -4, ["readonly"], (1, 1, 1), ["@read", "@sortedset", "@slow"],
        "sorted-set", "2.2.0",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low"
    } => ZRange,
    |args| range(args, false, Some(Kind::Score), Some(true))
}

crate::alias_command! {
    /// `ZREVRANGEBYLEX key max min [LIMIT offset count]`.
    ZRevRangeByLex: spec! {
        "zrevrangebylex", -4, ["readonly"], (1, 1, 1), ["@read", "@sortedset", "@slow"],
        "sorted-set", "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings."
    } => ZRange,
    |args| range(args, false, Some(Kind::Lex), Some(true))
}

crate::alias_command! {
    /// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`.
    ZRangeStore: spec! {
        "zrangestore", -5, ["write", "denyoom"], (1, 2, 1), ["@write", "@sortedset", "@slow"],
        "sorted-set", "6.2.0", "Store a range of members from sorted set into another key"
    } => ZRange,
    |args| range(args, true, None, None)
}

crate::alias_command! {
    /// `ZCOUNT key min max`.
    ZCount: spec! {
        "zcount", 4, ["readonly", "fast"], (1, 1, 1), ["@read", "@sortedset", "@fast"],
        "sorted-set", "2.0.0", "Count the members in a sorted set with scores within the given values"
    } => ZRange,
    |args| whole(args, Kind::Score, ZRangeAct::Count)
}

crate::alias_command! {
    /// `ZLEXCOUNT key min max`.
    ZLexCount: spec! {
        "zlexcount", 4, ["readonly", "fast"], (1, 1, 1), ["@read", "@sortedset", "@fast"],
        "sorted-set", "2.8.9",
        "Count the number of members in a sorted set between a given lexicographical range"
    } => ZRange,
    |args| whole(args, Kind::Lex, ZRangeAct::Count)
}

crate::alias_command! {
    /// `ZREMRANGEBYRANK key start stop`.
    ZRemRangeByRank: spec! {
        "zremrangebyrank", 4, ["write"], (1, 1, 1), ["@write", "@sortedset", "@slow"],
        "sorted-set", "2.0.0", "Remove all members in a sorted set within the given indexes"
    } => ZRange,
    |args| whole(args, Kind::Rank, ZRangeAct::Remove)
}

crate::alias_command! {
    /// `ZREMRANGEBYSCORE key min max`.
    ZRemRangeByScore: spec! {
        "zremrangebyscore", 4, ["write"], (1, 1, 1), ["@write", "@sortedset", "@slow"],
        "sorted-set", "1.2.0", "Remove all members in a sorted set within the given scores"
    } => ZRange,
    |args| whole(args, Kind::Score, ZRangeAct::Remove)
}

crate::alias_command! {
    /// `ZREMRANGEBYLEX key min max`.
    ZRemRangeByLex: spec! {
        "zremrangebylex", 4, ["write"], (1, 1, 1), ["@write", "@sortedset", "@slow"],
        "sorted-set", "2.8.9",
        "Remove all members in a sorted set between the given lexicographical range"
    } => ZRange,
    |args| whole(args, Kind::Lex, ZRangeAct::Remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_bounds_read_like_strtod() {
        let b = |s: &str| score_bound(s.as_bytes());
        assert_eq!(
            b("(1.5"),
            Some(ScoreBound {
                value: 1.5,
                open: true
            })
        );
        assert_eq!(b("-inf").map(|b| b.value), Some(f64::NEG_INFINITY));
        assert_eq!(b(" 2").map(|b| b.value), Some(2.0));
        assert_eq!(b("").map(|b| b.value), Some(0.0));
        assert_eq!(b("nan"), None);
        assert_eq!(b("1x"), None);
    }
}

//! The sorted-set commands (Redis's `sorted-set` group). A sorted set is one metadata
//! row, one row per member holding its score, and one score-index row per member
//! ordered by (score, member) (docs/storage.md).

mod bzpop;
mod zadd;
mod zcard;
mod zcombine;
mod zpop;
mod zrandmember;
mod zrange;
mod zrank;
mod zrem;
mod zscan;
mod zscore;

pub use bzpop::{BZMPop, BZPopMax, BZPopMin};
pub use zadd::{ZAdd, ZIncrBy};
pub use zcard::ZCard;
pub use zcombine::{
    Aggregate, ZCombine, ZDiff, ZDiffStore, ZInter, ZInterCard, ZInterStore, ZUnion, ZUnionStore,
};
pub use zpop::{ZMPop, ZPop, ZPopMax, ZPopMin};
pub use zrandmember::ZRandMember;
pub use zrange::{
    LexBound, ScoreBound, ZBy, ZCount, ZLexCount, ZRange, ZRangeAct, ZRangeByLex, ZRangeByScore,
    ZRangeStore, ZRemRangeByLex, ZRemRangeByRank, ZRemRangeByScore, ZRevRange, ZRevRangeByLex,
    ZRevRangeByScore,
};
pub use zrank::{ZRank, ZRevRank};
pub use zrem::ZRem;
pub use zscan::ZScan;
pub use zscore::{ZMScore, ZScore};

use crate::args::Args;
use crate::number::parse_redis_double;
use crate::reply::{syntax_error, Reply};

/// The type tag of a sorted set (Redis's `OBJ_ZSET`).
pub const TYPE_ZSET: u8 = 3;

/// A score as Redis reads one (`strtod`: `inf`, `-inf`, `+inf` allowed, NaN refused);
/// `-0` is `0`, as Redis stores it.
fn score(arg: &[u8]) -> Option<f64> {
    parse_redis_double(arg).map(|s| if s == 0.0 { 0.0 } else { s })
}

/// Members with scores as a reply: pairs of member and double, or the members alone.
pub fn scored_reply(items: Vec<(Vec<u8>, f64)>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (Reply::bulk(m), Reply::Double(s)))
                .collect(),
        )
    } else {
        Reply::Array(items.into_iter().map(|(m, _)| Reply::bulk(m)).collect())
    }
}

/// The members and scores of a [`scored_reply`] with scores.
pub fn scored_items(reply: Reply) -> Result<Vec<(Vec<u8>, f64)>, Reply> {
    match reply {
        Reply::Pairs(pairs) => Ok(pairs
            .into_iter()
            .filter_map(|pair| match pair {
                (Reply::Bulk(m), Reply::Double(s)) => Some((m.to_vec(), s)),
                _ => None,
            })
            .collect()),
        other => Err(other),
    }
}

/// `MIN` (false) or `MAX` (true).
fn min_or_max(args: &mut Args) -> Result<bool, Reply> {
    match args.option().as_deref() {
        Some("min") => Ok(false),
        Some("max") => Ok(true),
        _ => Err(syntax_error()),
    }
}

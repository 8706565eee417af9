//! `BZPOPMIN key [key ...] timeout`, `BZPOPMAX` and
//! `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`: blocking pops on the
//! list commands' blocking path ([`BPop`]).

use super::ZPop;
use crate::args::Args;
use crate::commands::list::{pair as blocking_pair, timeout, BPop, BlockingForm};
use crate::reply::{syntax_error, Reply};
use crate::spec;

fn pair(args: &mut Args, max: bool) -> Result<BPop, Reply> {
    blocking_pair(args, !max, BlockingForm::ZPair { max })
}

crate::alias_command! {
    /// `BZPOPMIN key [key ...] timeout`.
    BZPopMin: spec! {
        "bzpopmin", -3, ["write", "noscript", "blocking", "fast"], (1, -2, 1),
        ["@write", "@sortedset", "@fast", "@blocking"],
        "sorted-set", "5.0.0",
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available"
    } => BPop,
    |args| pair(args, false)
}

crate::alias_command! {
    /// `BZPOPMAX key [key ...] timeout`.
    BZPopMax: spec! {
        "bzpopmax", -3, ["write", "noscript", "blocking", "fast"], (1, -2, 1),
        ["@write", "@sortedset", "@fast", "@blocking"],
        "sorted-set", "5.0.0",
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available"
    } => BPop,
    |args| pair(args, true)
}

crate::alias_command! {
    /// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`.
    BZMPop: spec! {
        "bzmpop", -5, ["write", "blocking", "movablekeys"], (0, 0, 0),
        ["@write", "@sortedset", "@slow", "@blocking"],
        "sorted-set", "7.0.0",
        "Remove and return members with scores in a sorted set or block until one is available"
    } => BPop,
    |args| {
        let timeout_ms = timeout(args)?;
        let popped = ZPop::parse_multi(args)?;
        if popped.keys.is_empty() {
            return Err(syntax_error());
        }
        Ok(BPop {
            keys: popped.keys,
            names: popped.names,
            dest: None,
            left: !popped.max,
            form: BlockingForm::ZMulti { max: popped.max, count: popped.count.unwrap_or(1) },
            timeout_ms,
        })
    }
}

//! `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
//! [STORE destination]` and `SORT_RO` (no `STORE`).
//!
//! A `BY` or `GET` pattern names other keys, which may live in any range, so only the
//! forms that read no other key are accepted: a `BY` without `*` (no sorting) and
//! `GET #` (the element itself). Any other pattern is refused with the error Redis
//! Cluster gives for the same reason.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Sorts the elements of a list, set or sorted set, numerically or (`alpha`) by
/// bytes, and answers them or stores them as a list in `store`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sort {
    /// The key.
    pub key: Bytes,
    /// `BY` a constant: keep the collection's own order.
    pub dont_sort: bool,
    /// `LIMIT offset count` (a negative count: no limit).
    pub limit: (i64, i64),
    /// How many `GET #` (each repeats every element; 0 answers each once).
    pub gets: usize,
    /// Descending.
    pub desc: bool,
    /// Compare as byte strings rather than numbers.
    pub alpha: bool,
    /// Where to store the result (`SORT ... STORE`, in the key's range).
    pub store: Option<Bytes>,
}

impl crate::op::OpKind for Sort {
    fn is_write(&self) -> bool {
        self.store.is_some()
    }
    fn keys(&self) -> Vec<&Bytes> {
        std::iter::once(&self.key).chain(&self.store).collect()
    }
    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        std::iter::once(&mut self.key)
            .chain(&mut self.store)
            .collect()
    }
}

fn parse(args: &mut Args, readonly: bool) -> Result<Sort, Reply> {
    let mut op = Sort {
        key: args.key()?,
        dont_sort: false,
        limit: (0, -1),
        gets: 0,
        desc: false,
        alpha: false,
        store: None,
    };
    while let Some(opt) = args.option() {
        let left = args.remaining();
        match opt.as_str() {
            "asc" => op.desc = false,
            "desc" => op.desc = true,
            "alpha" => op.alpha = true,
            "limit" if left >= 2 => op.limit = (args.int()?, args.int()?),
            "store" if !readonly && left >= 1 => op.store = Some(args.key()?),
            "by" if left >= 1 => {
                if args.arg()?.contains(&b'*') {
                    return Err(Reply::err("BY option of SORT denied in Cluster mode."));
                }
                op.dont_sort = true;
            }
            "get" if left >= 1 => {
                if args.arg()?.as_ref() != b"#" {
                    return Err(Reply::err("GET option of SORT denied in Cluster mode."));
                }
                op.gets += 1;
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok(op)
}

impl Command for Sort {
    const SPEC: CommandSpec = spec! {
        "sort", -2, ["write", "denyoom", "movablekeys"], (1, 1, 1),
        ["@write", "@set", "@sortedset", "@list", "@slow", "@dangerous"],
        "generic", "1.0.0", "Sort the elements in a list, set or sorted set"
    };
    type Parsed = Sort;

    fn parse(args: &mut Args) -> Result<Sort, Reply> {
        parse(args, false)
    }
}

crate::alias_command! {
    /// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]`.
    SortRo: spec! {
        "sort_ro", -2, ["readonly", "movablekeys"], (1, 1, 1),
        ["@read", "@set", "@sortedset", "@list", "@slow", "@dangerous"],
        "generic", "7.0.0", "Sort the elements in a list, set or sorted set. Read-only variant of SORT."
    } => Sort,
    |args| parse(args, true)
}

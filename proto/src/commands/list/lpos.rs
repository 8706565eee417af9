//! `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Indexes of an element: the `rank`-th match on (negative: from the tail), one (or
/// nil) without `count`, up to `count` (0: all) with it, looking at `maxlen` elements
/// at most (0: all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LPos {
    /// The key.
    pub key: Bytes,
    /// The element.
    pub element: Bytes,
    /// Which match first.
    pub rank: i64,
    /// How many matches, if given.
    pub count: Option<u64>,
    /// How many elements to compare at most.
    pub maxlen: u64,
}

crate::op_kind!(LPos, write: false, key key);

impl Command for LPos {
    const SPEC: CommandSpec = spec! {
        "lpos", -3, ["readonly"], (1, 1, 1), ["@read", "@list", "@slow"],
        "list", "6.0.6", "Return the index of matching elements on a list"
    };
    type Parsed = LPos;

    fn parse(args: &mut Args) -> Result<LPos, Reply> {
        let mut op = LPos {
            key: args.key()?,
            element: args.arg()?,
            rank: 1,
            count: None,
            maxlen: 0,
        };
        while let Some(opt) = args.option() {
            if args.is_empty() {
                return Err(syntax_error());
            }
            match opt.as_str() {
                "rank" => {
                    let rank = args.int()?;
                    if rank == 0 {
                        return Err(Reply::err(
                            "RANK can't be zero: use 1 to start from the first match, 2 from \
                             the second ... or use negative to start from the end of the list",
                        ));
                    }
                    if rank == i64::MIN {
                        return Err(Reply::err("value is out of range"));
                    }
                    op.rank = rank;
                }
                "count" => {
                    let n = args.int()?;
                    op.count =
                        Some(u64::try_from(n).map_err(|_| Reply::err("COUNT can't be negative"))?);
                }
                "maxlen" => {
                    let n = args.int()?;
                    op.maxlen =
                        u64::try_from(n).map_err(|_| Reply::err("MAXLEN can't be negative"))?;
                }
                _ => return Err(syntax_error()),
            }
        }
        Ok(op)
    }
}

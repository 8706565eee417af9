//! `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`.

use super::side;
use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Pops up to `count` elements from the first non-empty list of `keys` (all in one
/// range); answers `[key, [elements]]`, or a nil array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LMPop {
    /// The lists, in order.
    pub keys: Vec<Bytes>,
    /// The same keys as the client named them (the reply names the list it popped).
    pub names: Vec<Bytes>,
    /// From the head.
    pub left: bool,
    /// How many at most.
    pub count: u64,
}

crate::op_kind!(LMPop, write: true, list keys);

impl Command for LMPop {
    const SPEC: CommandSpec = spec! {
        "lmpop", -4, ["write", "movablekeys"], (0, 0, 0), ["@write", "@list", "@slow"],
        "list", "7.0.0", "Pop elements from a list"
    };
    type Parsed = LMPop;

    fn parse(args: &mut Args) -> Result<LMPop, Reply> {
        let numkeys = args.int().unwrap_or(0);
        if numkeys <= 0 {
            return Err(Reply::err("numkeys should be greater than 0"));
        }
        if numkeys as usize >= args.remaining() {
            return Err(syntax_error());
        }
        let keys = (0..numkeys)
            .map(|_| args.key())
            .collect::<Result<Vec<_>, _>>()?;
        let left = side(args)?;
        let mut count = None;
        while let Some(opt) = args.option() {
            if opt != "count" || args.is_empty() || count.is_some() {
                return Err(syntax_error());
            }
            let n = args.int()?;
            if n <= 0 {
                return Err(Reply::err("count should be greater than 0"));
            }
            count = Some(n as u64);
        }
        Ok(LMPop {
            names: keys.clone(),
            keys,
            left,
            count: count.unwrap_or(1),
        })
    }
}

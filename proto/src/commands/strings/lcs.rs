//! `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `LCS` options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LcsOptions {
    /// Only the length.
    pub len: bool,
    /// The matching ranges.
    pub idx: bool,
    /// Skip ranges shorter than this.
    pub min_match_len: u64,
    /// Include each range's length.
    pub with_match_len: bool,
}

/// `LCS`: the longest common subsequence of two strings (both keys in one range).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lcs {
    /// First key.
    pub a: Bytes,
    /// Second key.
    pub b: Bytes,
    /// Options.
    pub options: LcsOptions,
}

crate::op_kind!(Lcs, write: false, key a, b);

impl Command for Lcs {
    const SPEC: CommandSpec = spec! {
        "lcs", -3, ["readonly"], (1, 2, 1), ["@read", "@string", "@slow"],
        "string", "7.0.0", "Find longest common substring"
    };
    type Parsed = Lcs;

    fn parse(args: &mut Args) -> Result<Lcs, Reply> {
        let (a, b) = (args.key()?, args.key()?);
        let mut options = LcsOptions::default();
        while let Some(opt) = args.option() {
            match opt.as_str() {
                "idx" => options.idx = true,
                "len" => options.len = true,
                "withmatchlen" => options.with_match_len = true,
                "minmatchlen" if !args.is_empty() => {
                    options.min_match_len = args.int()?.max(0) as u64;
                }
                _ => return Err(syntax_error()),
            }
        }
        if options.idx && options.len {
            return Err(Reply::err(
                "If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(Lcs { a, b, options })
    }
}

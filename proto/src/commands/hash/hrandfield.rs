//! `HRANDFIELD key [count [WITHVALUES]]`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Random fields of a hash: one (or nil) without a count; up to `count` distinct ones
/// for a positive count; exactly `-count`, maybe repeated, for a negative one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HRandField {
    /// The key.
    pub key: Bytes,
    /// How many, if given.
    pub count: Option<i64>,
    /// With their values.
    pub with_values: bool,
}

crate::op_kind!(HRandField, write: false, key key);

impl Command for HRandField {
    const SPEC: CommandSpec = spec! {
        "hrandfield", -2, ["readonly"], (1, 1, 1), ["@read", "@hash", "@slow"],
        "hash", "6.2.0", "Get one or multiple random fields from a hash"
    };
    type Parsed = HRandField;

    fn parse(args: &mut Args) -> Result<HRandField, Reply> {
        let key = args.key()?;
        if args.remaining() > 2 {
            return Err(syntax_error());
        }
        let count = if args.is_empty() {
            None
        } else {
            Some(args.int()?)
        };
        let with_values = match args.option() {
            None => false,
            Some(opt) if opt == "withvalues" => true,
            Some(_) => return Err(syntax_error()),
        };
        Ok(HRandField {
            key,
            count,
            with_values,
        })
    }
}

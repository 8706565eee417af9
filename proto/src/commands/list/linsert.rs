//! `LINSERT key BEFORE|AFTER pivot element`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Inserts an element next to the first occurrence of `pivot`; answers the new length,
/// -1 without the pivot, 0 without the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LInsert {
    /// The key.
    pub key: Bytes,
    /// Before the pivot (else after).
    pub before: bool,
    /// The element to insert next to.
    pub pivot: Bytes,
    /// The new element.
    pub element: Bytes,
}

crate::op_kind!(LInsert, write: true, key key);

impl Command for LInsert {
    const SPEC: CommandSpec = spec! {
        "linsert", 5, ["write", "denyoom"], (1, 1, 1), ["@write", "@list", "@slow"],
        "list", "2.2.0", "Insert an element before or after another element in a list"
    };
    type Parsed = LInsert;

    fn parse(args: &mut Args) -> Result<LInsert, Reply> {
        let key = args.key()?;
        let before = match args.option().as_deref() {
            Some("before") => true,
            Some("after") => false,
            _ => return Err(syntax_error()),
        };
        Ok(LInsert {
            key,
            before,
            pivot: args.arg()?,
            element: args.value()?,
        })
    }
}

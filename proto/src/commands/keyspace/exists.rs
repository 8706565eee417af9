//! `EXISTS key [key ...]` and `TOUCH`.

use crate::args::Args;
use crate::op::{sum_replies, Command, FanOut};
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `EXISTS`: how many of the keys exist (repeats count).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exists {
    /// The keys.
    pub keys: Vec<Bytes>,
}

crate::op_kind!(Exists, write: false, list keys);

impl Command for Exists {
    const SPEC: CommandSpec = spec! {
        "exists", -2, ["readonly", "fast"], (1, -1, 1), ["@keyspace", "@read", "@fast"],
        "generic", "1.0.0", "Determine if a key exists"
    };
    type Parsed = Exists;

    fn parse(args: &mut Args) -> Result<Exists, Reply> {
        Ok(Exists { keys: args.rest() })
    }
}

crate::alias_command! {
    /// `TOUCH`: `EXISTS` (Tessera keeps no access times).
    Touch: spec! {
        "touch", -2, ["readonly", "fast"], (1, -1, 1), ["@keyspace", "@read", "@fast"],
        "generic", "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified."
    } => Exists,
    |args| Exists::parse(args)
}

impl FanOut for Exists {
    fn subset(&self, positions: &[usize]) -> Self {
        Exists {
            keys: positions.iter().map(|&i| self.keys[i].clone()).collect(),
        }
    }

    fn merge(parts: Vec<(Vec<usize>, Reply)>, _keys: usize) -> Reply {
        sum_replies(parts)
    }
}

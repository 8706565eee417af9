//! `DEL key [key ...]` and `UNLINK`.

use crate::args::Args;
use crate::op::{sum_replies, Command, FanOut};
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `DEL`: deletes keys, answering how many existed; per range, not atomic across.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Del {
    /// The keys.
    pub keys: Vec<Bytes>,
}

crate::op_kind!(Del, write: true, list keys);

impl Command for Del {
    const SPEC: CommandSpec = spec! {
        "del", -2, ["write"], (1, -1, 1), ["@keyspace", "@write", "@slow"],
        "generic", "1.0.0", "Delete a key"
    };
    type Parsed = Del;

    fn parse(args: &mut Args) -> Result<Del, Reply> {
        Ok(Del { keys: args.rest() })
    }
}

crate::alias_command! {
    /// `UNLINK`: `DEL` (Tessera deletes in the background anyway).
    Unlink: spec! {
        "unlink", -2, ["write", "fast"], (1, -1, 1), ["@keyspace", "@write", "@fast"],
        "generic", "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking."
    } => Del,
    |args| Del::parse(args)
}

impl FanOut for Del {
    fn subset(&self, positions: &[usize]) -> Self {
        Del {
            keys: positions.iter().map(|&i| self.keys[i].clone()).collect(),
        }
    }

    fn merge(parts: Vec<(Vec<usize>, Reply)>, _keys: usize) -> Reply {
        sum_replies(parts)
    }
}

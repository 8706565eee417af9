//! `MGET key [key ...]`.

use crate::args::Args;
use crate::op::{Command, FanOut};
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `MGET`: the values of several keys (nil for missing ones), read per range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MGet {
    /// The keys, in request order (repeats allowed).
    pub keys: Vec<Bytes>,
}

crate::op_kind!(MGet, write: false, list keys);

impl Command for MGet {
    const SPEC: CommandSpec = spec! {
        "mget", -2, ["readonly", "fast"], (1, -1, 1), ["@read", "@string", "@fast"],
        "string", "1.0.0", "Get the values of all the given keys"
    };
    type Parsed = MGet;

    fn parse(args: &mut Args) -> Result<MGet, Reply> {
        Ok(MGet { keys: args.rest() })
    }
}

impl FanOut for MGet {
    fn subset(&self, positions: &[usize]) -> Self {
        MGet {
            keys: positions.iter().map(|&i| self.keys[i].clone()).collect(),
        }
    }

    fn merge(parts: Vec<(Vec<usize>, Reply)>, keys: usize) -> Reply {
        let mut values = vec![Reply::Nil; keys];
        for (positions, reply) in parts {
            match reply {
                Reply::Array(items) => {
                    for (i, item) in positions.into_iter().zip(items) {
                        values[i] = item;
                    }
                }
                other => return other,
            }
        }
        Reply::Array(values)
    }
}

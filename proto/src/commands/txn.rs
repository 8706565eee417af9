//! Ops of transactions: a key's version for `WATCH`, and `MULTI`/`EXEC` as one op.

use crate::op::{Op, OpKind};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The version (sequence number of the last write) of a live key, nil if absent:
/// what `WATCH` remembers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// The key.
    pub key: Bytes,
}

crate::op_kind!(Version, write: false, key key);

/// `MULTI` ... `EXEC`: if every watched key still has its version, run `ops` in order
/// and answer their replies as an array; otherwise run nothing and answer nil. One
/// Raft entry, so it applies atomically.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Txn {
    /// Watched keys and the version each had when watched.
    pub watches: Vec<(Bytes, Option<Bytes>)>,
    /// The queued ops.
    pub ops: Vec<Op>,
}

impl OpKind for Txn {
    fn is_write(&self) -> bool {
        self.ops.iter().any(Op::is_write)
    }

    fn keys(&self) -> Vec<&Bytes> {
        let watched = self.watches.iter().map(|(k, _)| k);
        watched.chain(self.ops.iter().flat_map(Op::keys)).collect()
    }

    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        let watched = self.watches.iter_mut().map(|(k, _)| k);
        watched
            .chain(self.ops.iter_mut().flat_map(Op::keys_mut))
            .collect()
    }
}

//! A key's version, for `WATCH` (the transaction itself, `MULTI`/`EXEC` as one op,
//! is [`crate::op::Txn`]).

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

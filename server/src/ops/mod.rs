//! Commands as a group executes them. Every string, keyspace and expiry command the
//! router accepts becomes an [`Op`]; [`Engine`] evaluates ops against the group's data
//! with Redis 7.0's semantics. Writes run inside the state machine (so the leader's
//! clock and sequence number carried in the Raft entry decide expiry and versions,
//! identically on every replica); reads run on the leader against a consistent view
//! after a ReadIndex confirmation. A transaction is one [`Op::Txn`]: one Raft entry.

mod engine;
mod keyspace;
mod strings;

pub use engine::{Change, Engine};
pub use strings::{format_float, parse_redis_float, parse_redis_int};

use serde::{Deserialize, Serialize};
use tessera_common::wire_bytes as wire;

/// When a write sets an expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiry {
    /// Remove any expiry (a plain `SET`).
    Clear,
    /// Leave the current expiry alone (`KEEPTTL`, or `GETEX` without options).
    Keep,
    /// Expire this many ms after the time carried in the entry (`EX`, `PX`).
    In(i64),
    /// Expire at this absolute time in ms (`EXAT`, `PXAT`).
    At(i64),
}

/// `SET`'s existence condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetCond {
    /// Always write.
    Always,
    /// Only if the key does not exist (`NX`).
    IfAbsent,
    /// Only if the key exists (`XX`).
    IfPresent,
}

/// `EXPIRE`'s condition flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireCond {
    /// Only if the key has no expiry.
    pub nx: bool,
    /// Only if the key has an expiry.
    pub xx: bool,
    /// Only if the new expiry is later.
    pub gt: bool,
    /// Only if the new expiry is sooner.
    pub lt: bool,
}

/// `TTL`-family output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtlForm {
    /// Milliseconds (`PTTL`, `PEXPIRETIME`) rather than seconds.
    pub millis: bool,
    /// The absolute time (`EXPIRETIME`) rather than what is left (`TTL`).
    pub absolute: bool,
}

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

/// One command for a group. Keys are storage keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `GET`.
    Get {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
    },
    /// `SET` and its variants (`SETNX`, `SETEX`, `PSETEX`, `GETSET`).
    Set {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        #[serde(with = "wire::bytes")]
        value: Vec<u8>,
        cond: SetCond,
        get: bool,
        expiry: Expiry,
        reply: SetReply,
    },
    /// `GETDEL`.
    GetDel {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
    },
    /// `GETEX`; `Expiry::Clear` means `PERSIST`.
    GetEx {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        expiry: Expiry,
    },
    /// `APPEND`.
    Append {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        #[serde(with = "wire::bytes")]
        value: Vec<u8>,
        max_len: u64,
    },
    /// `STRLEN`.
    Strlen {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
    },
    /// `INCR`, `DECR`, `INCRBY`, `DECRBY`.
    IncrBy {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        by: i64,
    },
    /// `INCRBYFLOAT`.
    IncrByFloat {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        by: f64,
    },
    /// `GETRANGE`, `SUBSTR`.
    GetRange {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        start: i64,
        end: i64,
    },
    /// `SETRANGE`.
    SetRange {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        offset: i64,
        #[serde(with = "wire::bytes")]
        value: Vec<u8>,
        max_len: u64,
    },
    /// `LCS`.
    Lcs {
        #[serde(with = "wire::bytes")]
        a: Vec<u8>,
        #[serde(with = "wire::bytes")]
        b: Vec<u8>,
        options: LcsOptions,
    },
    /// `MGET` (all keys in this group): an array of values or nils.
    MGet {
        #[serde(with = "wire::byte_list")]
        keys: Vec<Vec<u8>>,
    },
    /// `MSET` (all keys in this group).
    MSet {
        #[serde(with = "wire::byte_pairs")]
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// `MSETNX` (all keys in this group).
    MSetNx {
        #[serde(with = "wire::byte_pairs")]
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// `DEL`, `UNLINK`: the number of keys removed.
    Del {
        #[serde(with = "wire::byte_list")]
        keys: Vec<Vec<u8>>,
    },
    /// `EXISTS`, `TOUCH`: how many of the keys exist (repeats count).
    Exists {
        #[serde(with = "wire::byte_list")]
        keys: Vec<Vec<u8>>,
    },
    /// `TYPE`.
    Type {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
    },
    /// `RENAME` (`nx`: `RENAMENX`).
    Rename {
        #[serde(with = "wire::bytes")]
        from: Vec<u8>,
        #[serde(with = "wire::bytes")]
        to: Vec<u8>,
        nx: bool,
    },
    /// `COPY`.
    Copy {
        #[serde(with = "wire::bytes")]
        from: Vec<u8>,
        #[serde(with = "wire::bytes")]
        to: Vec<u8>,
        replace: bool,
    },
    /// `EXPIRE`, `PEXPIRE` (`relative`), `EXPIREAT`, `PEXPIREAT`: `at` in ms.
    Expire {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        at: i64,
        relative: bool,
        cond: ExpireCond,
    },
    /// `PERSIST`.
    Persist {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
    },
    /// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`.
    Ttl {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
        form: TtlForm,
    },
    /// The sequence number of a live key, for `WATCH` (nil if absent).
    Version {
        #[serde(with = "wire::bytes")]
        key: Vec<u8>,
    },
    /// Delete `keys` that have expired by the entry's time (the expiry sweeper).
    SweepExpired {
        #[serde(with = "wire::byte_list")]
        keys: Vec<Vec<u8>>,
    },
    /// Delete every key of the group's range (`FLUSHALL`, `FLUSHDB`); evaluated by the
    /// state machine, which knows the range.
    FlushRange,
    /// Fence (or unfence) a key prefix: while fenced, every write to a key with that
    /// prefix is refused, in log order. Answers `[count, example]` of the live keys
    /// that have the prefix. Used to create a table without racing writers.
    Fence {
        /// The storage-key prefix.
        #[serde(with = "wire::bytes")]
        prefix: Vec<u8>,
        /// Fence (true) or lift the fence (false).
        on: bool,
    },
    /// `MULTI`/`EXEC`: if every watched key still has its version, run `ops` in order
    /// and answer their results as an array; otherwise run nothing and answer nil.
    Txn {
        watches: Vec<(Vec<u8>, Option<Vec<u8>>)>,
        ops: Vec<Op>,
    },
}

/// What a successful `SET` answers when `GET` was not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetReply {
    /// `+OK` / nil (`SET`, `SETEX`, `PSETEX`).
    Ok,
    /// `:1` / `:0` (`SETNX`).
    Flag,
}

impl Op {
    /// Whether the op may change data (and must go through Raft).
    pub fn is_write(&self) -> bool {
        match self {
            Op::Get { .. }
            | Op::MGet { .. }
            | Op::Strlen { .. }
            | Op::GetRange { .. }
            | Op::Lcs { .. }
            | Op::Exists { .. }
            | Op::Type { .. }
            | Op::Ttl { .. }
            | Op::Version { .. } => false,
            Op::Txn { ops, .. } => ops.iter().any(Op::is_write),
            _ => true,
        }
    }

    /// Every storage key the op touches.
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            Op::Get { key }
            | Op::Set { key, .. }
            | Op::GetDel { key }
            | Op::GetEx { key, .. }
            | Op::Append { key, .. }
            | Op::Strlen { key }
            | Op::IncrBy { key, .. }
            | Op::IncrByFloat { key, .. }
            | Op::GetRange { key, .. }
            | Op::SetRange { key, .. }
            | Op::Type { key }
            | Op::Expire { key, .. }
            | Op::Persist { key }
            | Op::Ttl { key, .. }
            | Op::Version { key } => vec![key],
            Op::Lcs { a, b, .. } => vec![a, b],
            Op::Rename { from, to, .. } | Op::Copy { from, to, .. } => vec![from, to],
            Op::MSet { pairs } | Op::MSetNx { pairs } => {
                pairs.iter().map(|(k, _)| k.as_slice()).collect()
            }
            Op::Del { keys }
            | Op::Exists { keys }
            | Op::SweepExpired { keys }
            | Op::MGet { keys } => keys.iter().map(Vec::as_slice).collect(),
            Op::FlushRange => Vec::new(),
            Op::Fence { prefix, .. } => vec![prefix],
            Op::Txn { watches, ops } => watches
                .iter()
                .map(|(k, _)| k.as_slice())
                .chain(ops.iter().flat_map(Op::keys))
                .collect(),
        }
    }
}

/// A reply, independent of the RESP version (the router encodes it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OpResult {
    /// `+OK`.
    Ok,
    /// A status line such as `string` or `none`.
    Status(String),
    /// A missing value.
    Nil,
    /// A missing array (an aborted transaction).
    NilArray,
    /// An integer.
    Int(i64),
    /// A string.
    Bulk(#[serde(with = "wire::bytes")] Vec<u8>),
    /// An array.
    Array(Vec<OpResult>),
    /// A map (`LCS IDX`).
    Map(Vec<(OpResult, OpResult)>),
    /// An error line, code included (`ERR ...`).
    Error(String),
}

impl OpResult {
    /// An `ERR` error.
    pub fn err(msg: &str) -> Self {
        OpResult::Error(format!("ERR {msg}"))
    }
}

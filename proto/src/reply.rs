//! Replies as values, independent of the RESP version: what a node answers for each
//! op, and what the router encodes for the client in RESP2 or RESP3 (RESP3-only
//! types degrade the way Redis degrades them for RESP2 clients).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A reply to one command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// A status line such as `string` or `QUEUED`.
    Status(String),
    /// An error line; the text starts with its code (`ERR`, `WRONGTYPE`, ...).
    Error(String),
    /// An error line given as raw bytes (Redis echoes a client's byte in one).
    RawError(Bytes),
    /// An integer.
    Int(i64),
    /// A binary-safe string.
    Bulk(Bytes),
    /// A missing value (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// A missing array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    /// An array.
    Array(Vec<Reply>),
    /// A map (a flat array in RESP2).
    Map(Vec<(Reply, Reply)>),
    /// Pairs: an array of two-element arrays in RESP3, one flat array in RESP2
    /// (`HRANDFIELD ... WITHVALUES`, `ZRANGE ... WITHSCORES`).
    Pairs(Vec<(Reply, Reply)>),
    /// A set (an array in RESP2).
    Set(Vec<Reply>),
    /// A double (a bulk string in RESP2).
    Double(f64),
    /// A boolean (an integer in RESP2).
    Bool(bool),
    /// Verbatim text (a bulk string in RESP2).
    Verbatim(String),
}

impl Reply {
    /// An error reply with the `ERR` code.
    pub fn err(msg: impl std::fmt::Display) -> Self {
        Reply::Error(format!("ERR {msg}"))
    }

    /// A bulk reply from anything byte-like.
    pub fn bulk(bytes: impl Into<Bytes>) -> Self {
        Reply::Bulk(bytes.into())
    }

    /// Whether it is an error line.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_) | Reply::RawError(_))
    }
}

/// Redis's error for a command applied to a key of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Redis's reply to a call with the wrong number of arguments.
pub fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

/// Redis's generic syntax error.
pub fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

/// A container's (`CLIENT`, `OBJECT`, ...) reply to a subcommand it does not know.
pub fn unknown_subcommand(container: &str, sub: &[u8]) -> Reply {
    Reply::err(format!(
        "unknown subcommand '{}'. Try {container} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// Redis's reply to a known subcommand whose arguments its own parser rejects after
/// the arity check passed (`SLOWLOG GET 1 2`, `CLIENT PAUSE 1 WRITE x`).
pub fn subcommand_syntax_error(container: &str, sub: &[u8]) -> Reply {
    Reply::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {container} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

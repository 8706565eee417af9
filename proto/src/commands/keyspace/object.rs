//! `OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key`: what Redis 7.0 would report for the
//! value as it is now (Tessera keeps no per-key access clock: `IDLETIME` is 0, and
//! `FREQ` answers Redis's error for an eviction policy that is not LFU).

use crate::args::Args;
use crate::reply::{unknown_subcommand, wrong_arity, Reply};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What `OBJECT` asks about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectInfo {
    /// `ENCODING`: the representation Redis would use.
    Encoding,
    /// `REFCOUNT`.
    RefCount,
    /// `IDLETIME`.
    IdleTime,
    /// `FREQ`.
    Freq,
}

/// One `OBJECT` question about a key (nil if it does not exist).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Object {
    /// The key.
    pub key: Bytes,
    /// The question.
    pub what: ObjectInfo,
}

crate::op_kind!(Object, write: false, key key);

/// The lines `OBJECT HELP` answers.
pub const HELP: &[&str] = &[
    "OBJECT <subcommand> <key>. Subcommands are:",
    "ENCODING <key>",
    "    The representation Redis would use for the key's value as it is now.",
    "FREQ <key>",
    "    Not tracked: answers the error Redis gives without an LFU eviction policy.",
    "IDLETIME <key>",
    "    Not tracked by Tessera: always 0.",
    "REFCOUNT <key>",
    "    What Redis would report: shared for small integers, else 1.",
    "HELP",
    "    Prints this help.",
];

/// Parses the arguments after `OBJECT`: `None` for `HELP`.
///
/// # Errors
/// Redis's arity and unknown-subcommand errors.
pub fn parse(args: &mut Args) -> Result<Option<Object>, Reply> {
    let raw = args.arg()?;
    let sub = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let what = match sub.as_str() {
        "help" if args.is_empty() => return Ok(None),
        "encoding" => ObjectInfo::Encoding,
        "refcount" => ObjectInfo::RefCount,
        "idletime" => ObjectInfo::IdleTime,
        "freq" => ObjectInfo::Freq,
        "help" => return Err(wrong_arity("object|help")),
        _ => return Err(unknown_subcommand("OBJECT", &raw)),
    };
    if args.remaining() != 1 {
        return Err(wrong_arity(&format!("object|{sub}")));
    }
    Ok(Some(Object {
        key: args.key()?,
        what,
    }))
}

//! `TTL key` and `PTTL`, `EXPIRETIME`, `PEXPIRETIME`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `TTL`-family output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtlForm {
    /// Milliseconds (`PTTL`, `PEXPIRETIME`) rather than seconds.
    pub millis: bool,
    /// The absolute time (`EXPIRETIME`) rather than what is left (`TTL`).
    pub absolute: bool,
}

/// The TTL commands: -2 for a missing key, -1 for one without expiry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ttl {
    /// The key.
    pub key: Bytes,
    /// What to answer.
    pub form: TtlForm,
}

crate::op_kind!(Ttl, write: false, key key);

fn parse(args: &mut Args, millis: bool, absolute: bool) -> Result<Ttl, Reply> {
    Ok(Ttl {
        key: args.key()?,
        form: TtlForm { millis, absolute },
    })
}

impl Command for Ttl {
    const SPEC: CommandSpec = spec! {
        "ttl", 2, ["readonly", "fast"], (1, 1, 1), ["@keyspace", "@read", "@fast"],
        "generic", "1.0.0", "Get the time to live for a key in seconds"
    };
    type Parsed = Ttl;

    fn parse(args: &mut Args) -> Result<Ttl, Reply> {
        parse(args, false, false)
    }
}

crate::alias_command! {
    /// `PTTL key`.
    PTtl: spec! {
        "pttl", 2, ["readonly", "fast"], (1, 1, 1), ["@keyspace", "@read", "@fast"],
        "generic", "2.6.0", "Get the time to live for a key in milliseconds"
    } => Ttl,
    |args| parse(args, true, false)
}

crate::alias_command! {
    /// `EXPIRETIME key`.
    ExpireTime: spec! {
        "expiretime", 2, ["readonly", "fast"], (1, 1, 1), ["@keyspace", "@read", "@fast"],
        "generic", "7.0.0", "Get the expiration Unix timestamp for a key"
    } => Ttl,
    |args| parse(args, false, true)
}

crate::alias_command! {
    /// `PEXPIRETIME key`.
    PExpireTime: spec! {
        "pexpiretime", 2, ["readonly", "fast"], (1, 1, 1), ["@keyspace", "@read", "@fast"],
        "generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds"
    } => Ttl,
    |args| parse(args, true, true)
}

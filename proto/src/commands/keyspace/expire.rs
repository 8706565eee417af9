//! `EXPIRE key seconds [NX|XX|GT|LT]` and `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`.

use crate::args::Args;
use crate::commands::expiry::invalid_expire;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

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

/// The expire commands: `at` in ms, relative to the entry's time or absolute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expire {
    /// The key.
    pub key: Bytes,
    /// When, in ms.
    pub at: i64,
    /// `at` counts from now.
    pub relative: bool,
    /// Conditions.
    pub cond: ExpireCond,
}

crate::op_kind!(Expire, write: true, key key);

/// Parses the arguments of the expire command `name` (`secs`: the time is in seconds).
fn parse(args: &mut Args, name: &str, secs: bool, relative: bool) -> Result<Expire, Reply> {
    let key = args.key()?;
    let time = args.arg()?;
    let mut cond = ExpireCond::default();
    while let Some(opt) = args.option() {
        match opt.as_str() {
            "nx" => cond.nx = true,
            "xx" => cond.xx = true,
            "gt" => cond.gt = true,
            "lt" => cond.lt = true,
            _ => {
                let opt = args.previous();
                return Err(Reply::err(format!("Unsupported option {opt}")));
            }
        }
    }
    if cond.nx && (cond.xx || cond.gt || cond.lt) {
        return Err(Reply::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if cond.gt && cond.lt {
        return Err(Reply::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    let mut at = crate::number::parse_redis_int(&time)
        .ok_or_else(|| Reply::err(crate::number::NOT_AN_INTEGER))?;
    if secs {
        at = at.checked_mul(1000).ok_or_else(|| invalid_expire(name))?;
    }
    if relative && at > i64::MAX - args.limits.now_ms as i64 {
        return Err(invalid_expire(name));
    }
    Ok(Expire {
        key,
        at,
        relative,
        cond,
    })
}

impl Command for Expire {
    const SPEC: CommandSpec = spec! {
        "expire", -3, ["write", "fast"], (1, 1, 1), ["@keyspace", "@write", "@fast"],
        "generic", "1.0.0", "Set a key's time to live in seconds"
    };
    type Parsed = Expire;

    fn parse(args: &mut Args) -> Result<Expire, Reply> {
        parse(args, "expire", true, true)
    }
}

crate::alias_command! {
    /// `PEXPIRE key milliseconds [NX|XX|GT|LT]`.
    PExpire: spec! {
        "pexpire", -3, ["write", "fast"], (1, 1, 1), ["@keyspace", "@write", "@fast"],
        "generic", "2.6.0", "Set a key's time to live in milliseconds"
    } => Expire,
    |args| parse(args, "pexpire", false, true)
}

crate::alias_command! {
    /// `EXPIREAT key unix-seconds [NX|XX|GT|LT]`.
    ExpireAt: spec! {
        "expireat", -3, ["write", "fast"], (1, 1, 1), ["@keyspace", "@write", "@fast"],
        "generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp"
    } => Expire,
    |args| parse(args, "expireat", true, false)
}

crate::alias_command! {
    /// `PEXPIREAT key unix-ms [NX|XX|GT|LT]`.
    PExpireAt: spec! {
        "pexpireat", -3, ["write", "fast"], (1, 1, 1), ["@keyspace", "@write", "@fast"],
        "generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds"
    } => Expire,
    |args| parse(args, "pexpireat", false, false)
}

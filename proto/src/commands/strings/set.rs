//! `SET` and the commands that are a `SET` with fixed options: `SETNX`, `SETEX`,
//! `PSETEX` and `GETSET`.

use crate::args::Args;
use crate::commands::expiry::{expiry_arg, Expiry, ExpiryOptions};
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

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

/// What a successful `SET` answers when `GET` was not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetReply {
    /// `+OK` / nil (`SET`, `SETEX`, `PSETEX`).
    Ok,
    /// `:1` / `:0` (`SETNX`).
    Flag,
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Set {
    /// The key.
    pub key: Bytes,
    /// The new value.
    pub value: Bytes,
    /// When to write.
    pub cond: SetCond,
    /// Answer the old value.
    pub get: bool,
    /// The new expiry.
    pub expiry: Expiry,
    /// The reply's form.
    pub reply: SetReply,
}

crate::op_kind!(Set, write: true, key key);

impl Set {
    fn plain(key: Bytes, value: Bytes, expiry: Expiry) -> Self {
        Set {
            key,
            value,
            cond: SetCond::Always,
            get: false,
            expiry,
            reply: SetReply::Ok,
        }
    }
}

impl Command for Set {
    const SPEC: CommandSpec = spec! {
        "set", -3, ["write", "denyoom"], (1, 1, 1), ["@write", "@string", "@slow"],
        "string", "1.0.0", "Set the string value of a key"
    };
    type Parsed = Set;

    fn parse(args: &mut Args) -> Result<Set, Reply> {
        let (key, value) = (args.key()?, args.arg()?);
        let (mut cond, mut get, mut expiry) = (SetCond::Always, false, ExpiryOptions::default());
        while let Some(opt) = args.option() {
            match opt.as_str() {
                "nx" if cond != SetCond::IfPresent => cond = SetCond::IfAbsent,
                "xx" if cond != SetCond::IfAbsent => cond = SetCond::IfPresent,
                "get" => get = true,
                other => {
                    if !expiry.take(other, args, true)? {
                        return Err(syntax_error());
                    }
                }
            }
        }
        let expiry = expiry.resolve(args, Expiry::Clear)?;
        let value = args.sized(value)?;
        Ok(Set {
            cond,
            get,
            ..Set::plain(key, value, expiry)
        })
    }
}

crate::alias_command! {
    /// `SETNX key value`: a `SET NX` answering 1 or 0.
    SetNx: spec! {
        "setnx", 3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "1.0.0", "Set the value of a key, only if the key does not exist"
    } => Set,
    |args| {
        Ok(Set {
            cond: SetCond::IfAbsent,
            reply: SetReply::Flag,
            ..Set::plain(args.key()?, args.value()?, Expiry::Clear)
        })
    }
}

crate::alias_command! {
    /// `SETEX key seconds value`.
    SetEx: spec! {
        "setex", 4, ["write", "denyoom"], (1, 1, 1), ["@write", "@string", "@slow"],
        "string", "2.0.0", "Set the value and expiration of a key"
    } => Set,
    |args| timed_set(args, true, "setex")
}

crate::alias_command! {
    /// `PSETEX key milliseconds value`.
    PSetEx: spec! {
        "psetex", 4, ["write", "denyoom"], (1, 1, 1), ["@write", "@string", "@slow"],
        "string", "2.6.0", "Set the value and expiration in milliseconds of a key"
    } => Set,
    |args| timed_set(args, false, "psetex")
}

fn timed_set(args: &mut Args, secs: bool, command: &str) -> Result<Set, Reply> {
    let key = args.key()?;
    let time = args.arg()?;
    let expiry = expiry_arg(&time, secs, true, command, args.limits.now_ms)?;
    Ok(Set::plain(key, args.value()?, expiry))
}

crate::alias_command! {
    /// `GETSET key value`: a `SET ... GET`.
    GetSet: spec! {
        "getset", 3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "1.0.0", "Set the string value of a key and return its old value"
    } => Set,
    |args| {
        Ok(Set {
            get: true,
            ..Set::plain(args.key()?, args.value()?, Expiry::Clear)
        })
    }
}

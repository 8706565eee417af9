//! Parsing of string commands into ops, with Redis 7.0's option rules and errors.

use super::{parse_int, syntax_error, wrong_arity, Command};
use crate::cluster::Cluster;
use crate::reply::Reply;
use crate::Context;
use bytes::Bytes;
use tessera_server::ops::{parse_redis_float, Expiry, LcsOptions, SetCond, SetReply};
use tessera_server::Op;

/// Longest user key: fjall's 64 KiB limit minus the 4-byte table prefix.
pub const MAX_KEY_BYTES: usize = 65_536 - 4;

/// The storage key of a user key, after checking its length.
pub fn storage_key(ctx: &Context, key: &[u8]) -> Result<Vec<u8>, Reply> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Reply::err(format!(
            "key is too large (at most {MAX_KEY_BYTES} bytes)"
        )));
    }
    Ok(Cluster::storage_key(&ctx.cluster.catalog(), key).1)
}

fn value(ctx: &Context, value: &Bytes) -> Result<Vec<u8>, Reply> {
    if value.len() > ctx.max_value_bytes {
        return Err(Reply::err(
            "string exceeds maximum allowed size (max-value-bytes)",
        ));
    }
    Ok(value.to_vec())
}

/// Now, in ms, on this router's clock (only used to detect overflowing expiries).
fn now_ms() -> i64 {
    tessera_server::value::now_ms() as i64
}

/// Converts an expiry argument the way Redis's `getExpireMillisecondsOrReply` does.
pub fn expiry_arg(
    arg: &[u8],
    unit_secs: bool,
    relative: bool,
    command: &str,
) -> Result<Expiry, Reply> {
    let invalid = || Reply::err(format!("invalid expire time in '{command}' command"));
    let value = parse_int(arg)?;
    if value <= 0 || (unit_secs && value > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if unit_secs { value * 1000 } else { value };
    if relative {
        if ms > i64::MAX - now_ms() {
            return Err(invalid());
        }
        Ok(Expiry::In(ms))
    } else {
        Ok(Expiry::At(ms))
    }
}

/// Parses the expiry options shared by SET and GETEX.
#[derive(Default)]
struct ExpiryFlags<'a> {
    kind: Option<(&'static str, &'a Bytes)>,
    keepttl: bool,
    persist: bool,
}

impl<'a> ExpiryFlags<'a> {
    /// Tries to take option `opt` (with `next` as its value); returns how many
    /// arguments it consumed, or `None` if it is not an expiry option or not allowed.
    fn take(&mut self, opt: &[u8], next: Option<&'a Bytes>, set: bool) -> Option<usize> {
        let timed = ["ex", "px", "exat", "pxat"];
        let opt = std::str::from_utf8(opt).ok()?.to_ascii_lowercase();
        if set && opt == "keepttl" && self.kind.is_none() {
            self.keepttl = true;
            return Some(1);
        }
        if !set && opt == "persist" && self.kind.is_none() {
            self.persist = true;
            return Some(1);
        }
        let kind = *timed.iter().find(|k| **k == opt)?;
        let other_kind = self.kind.is_some_and(|(k, _)| k != kind);
        if self.keepttl || self.persist || other_kind {
            return None;
        }
        self.kind = Some((kind, next?));
        Some(2)
    }

    fn resolve(&self, command: &str, default: Expiry) -> Result<Expiry, Reply> {
        match self.kind {
            Some(("ex", v)) => expiry_arg(v, true, true, command),
            Some(("px", v)) => expiry_arg(v, false, true, command),
            Some(("exat", v)) => expiry_arg(v, true, false, command),
            Some((_, v)) => expiry_arg(v, false, false, command),
            None if self.keepttl => Ok(Expiry::Keep),
            None if self.persist => Ok(Expiry::Clear),
            None => Ok(default),
        }
    }
}

fn parse_set(ctx: &Context, args: &[Bytes]) -> Result<Op, Reply> {
    let (mut cond, mut get, mut flags) = (SetCond::Always, false, ExpiryFlags::default());
    let mut j = 3;
    while j < args.len() {
        let opt = args[j].to_ascii_lowercase();
        let next = args.get(j + 1);
        j += match opt.as_slice() {
            b"nx" if cond != SetCond::IfPresent => {
                cond = SetCond::IfAbsent;
                1
            }
            b"xx" if cond != SetCond::IfAbsent => {
                cond = SetCond::IfPresent;
                1
            }
            b"get" => {
                get = true;
                1
            }
            _ => flags.take(&opt, next, true).ok_or_else(syntax_error)?,
        };
    }
    let expiry = flags.resolve("set", Expiry::Clear)?;
    Ok(Op::Set {
        key: storage_key(ctx, &args[1])?,
        value: value(ctx, &args[2])?,
        cond,
        get,
        expiry,
        reply: SetReply::Ok,
    })
}

fn parse_getex(ctx: &Context, args: &[Bytes]) -> Result<Op, Reply> {
    let mut flags = ExpiryFlags::default();
    let mut j = 2;
    while j < args.len() {
        j += flags
            .take(&args[j], args.get(j + 1), false)
            .ok_or_else(syntax_error)?;
    }
    let expiry = flags.resolve("getex", Expiry::Keep)?;
    Ok(Op::GetEx {
        key: storage_key(ctx, &args[1])?,
        expiry,
    })
}

/// Key/value pairs of MSET and MSETNX, as storage keys and values.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn pairs(ctx: &Context, name: &str, args: &[Bytes]) -> Result<Pairs, Reply> {
    if !(args.len() - 1).is_multiple_of(2) {
        return Err(wrong_arity(name));
    }
    args[1..]
        .chunks(2)
        .map(|kv| Ok((storage_key(ctx, &kv[0])?, value(ctx, &kv[1])?)))
        .collect()
}

fn parse_lcs(ctx: &Context, args: &[Bytes]) -> Result<Op, Reply> {
    let mut options = LcsOptions::default();
    let mut j = 3;
    while j < args.len() {
        match args[j].to_ascii_lowercase().as_slice() {
            b"idx" => options.idx = true,
            b"len" => options.len = true,
            b"withmatchlen" => options.with_match_len = true,
            b"minmatchlen" if j + 1 < args.len() => {
                options.min_match_len = parse_int(&args[j + 1])?.max(0) as u64;
                j += 1;
            }
            _ => return Err(syntax_error()),
        }
        j += 1;
    }
    if options.idx && options.len {
        return Err(Reply::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(Op::Lcs {
        a: storage_key(ctx, &args[1])?,
        b: storage_key(ctx, &args[2])?,
        options,
    })
}

fn set_with(
    ctx: &Context,
    args: &[Bytes],
    key: usize,
    val: usize,
    cond: SetCond,
    expiry: Expiry,
) -> Result<Op, Reply> {
    let reply = if cond == SetCond::IfAbsent {
        SetReply::Flag
    } else {
        SetReply::Ok
    };
    Ok(Op::Set {
        key: storage_key(ctx, &args[key])?,
        value: value(ctx, &args[val])?,
        cond,
        get: false,
        expiry,
        reply,
    })
}

fn parse_op(ctx: &Context, name: &str, args: &[Bytes]) -> Option<Result<Op, Reply>> {
    let key = || storage_key(ctx, &args[1]);
    let max = ctx.max_value_bytes as u64;
    Some(match name {
        "get" => key().map(|key| Op::Get { key }),
        "set" => parse_set(ctx, args),
        "setnx" => set_with(ctx, args, 1, 2, SetCond::IfAbsent, Expiry::Clear),
        "setex" | "psetex" => expiry_arg(&args[2], name == "setex", true, name)
            .and_then(|expiry| set_with(ctx, args, 1, 3, SetCond::Always, expiry)),
        "getset" => set_with(ctx, args, 1, 2, SetCond::Always, Expiry::Clear).map(|op| match op {
            Op::Set {
                key,
                value,
                cond,
                expiry,
                reply,
                ..
            } => Op::Set {
                key,
                value,
                cond,
                get: true,
                expiry,
                reply,
            },
            other => other,
        }),
        "getdel" => key().map(|key| Op::GetDel { key }),
        "getex" => parse_getex(ctx, args),
        "mget" => args[1..]
            .iter()
            .map(|k| storage_key(ctx, k))
            .collect::<Result<_, _>>()
            .map(|keys| Op::MGet { keys }),
        "mset" => pairs(ctx, name, args).map(|pairs| Op::MSet { pairs }),
        "msetnx" => pairs(ctx, name, args).map(|pairs| Op::MSetNx { pairs }),
        "append" => key().map(|key| Op::Append {
            key,
            value: args[2].to_vec(),
            max_len: max,
        }),
        "strlen" => key().map(|key| Op::Strlen { key }),
        "incr" => key().map(|key| Op::IncrBy { key, by: 1 }),
        "decr" => key().map(|key| Op::IncrBy { key, by: -1 }),
        "incrby" => parse_int(&args[2]).and_then(|by| Ok(Op::IncrBy { key: key()?, by })),
        "decrby" => match parse_int(&args[2]) {
            Ok(i64::MIN) => Err(Reply::err("decrement would overflow")),
            Ok(by) => key().map(|key| Op::IncrBy { key, by: -by }),
            Err(e) => Err(e),
        },
        "incrbyfloat" => match parse_redis_float(&args[2]) {
            Some(by) => key().map(|key| Op::IncrByFloat { key, by }),
            None => Err(Reply::err("value is not a valid float")),
        },
        "getrange" | "substr" => parse_int(&args[2])
            .and_then(|start| Ok((start, parse_int(&args[3])?)))
            .and_then(|(start, end)| {
                Ok(Op::GetRange {
                    key: key()?,
                    start,
                    end,
                })
            }),
        "setrange" => parse_int(&args[2]).and_then(|offset| {
            Ok(Op::SetRange {
                key: key()?,
                offset,
                value: args[3].to_vec(),
                max_len: max,
            })
        }),
        "lcs" => parse_lcs(ctx, args),
        _ => return None,
    })
}

/// Parses a string command; `None` if `name` is not one.
pub fn parse(ctx: &Context, name: &str, args: &[Bytes]) -> Option<Result<Command, Reply>> {
    parse_op(ctx, name, args).map(|op| op.map(Command::Op))
}

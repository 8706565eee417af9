//! Expiry arguments shared by the string and keyspace commands.

use crate::args::Args;
use crate::reply::{syntax_error, Reply};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

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

/// Redis's error for an expiry out of range.
pub fn invalid_expire(command: &str) -> Reply {
    Reply::err(format!("invalid expire time in '{command}' command"))
}

/// Converts an expiry argument the way Redis's `getExpireMillisecondsOrReply` does: a
/// positive number of seconds (`unit_secs`) or ms, relative to `now_ms` or absolute.
///
/// # Errors
/// Not an integer, not positive, or overflowing when converted or added to now.
pub fn expiry_arg(
    arg: &[u8],
    unit_secs: bool,
    relative: bool,
    command: &str,
    now_ms: u64,
) -> Result<Expiry, Reply> {
    let value = crate::number::parse_redis_int(arg)
        .ok_or_else(|| Reply::err(crate::number::NOT_AN_INTEGER))?;
    if value <= 0 || (unit_secs && value > i64::MAX / 1000) {
        return Err(invalid_expire(command));
    }
    let ms = if unit_secs { value * 1000 } else { value };
    if relative {
        if ms > i64::MAX - now_ms as i64 {
            return Err(invalid_expire(command));
        }
        Ok(Expiry::In(ms))
    } else {
        Ok(Expiry::At(ms))
    }
}

/// The expiry options shared by `SET` (`KEEPTTL`) and `GETEX` (`PERSIST`): at most one
/// of `EX`, `PX`, `EXAT`, `PXAT` and the command's own flag. As in Redis, the options
/// are all read (conflicts are syntax errors) before the expiry value is checked.
#[derive(Default)]
pub struct ExpiryOptions {
    timed: Option<(&'static str, Bytes)>,
    keep: bool,
    persist: bool,
}

impl ExpiryOptions {
    /// Takes option `opt` if it is an expiry option (with its value from `args`):
    /// `Ok(true)` if taken, `Ok(false)` if `opt` is not one.
    ///
    /// # Errors
    /// A syntax error for conflicting options or a missing value.
    pub fn take(&mut self, opt: &str, args: &mut Args, set: bool) -> Result<bool, Reply> {
        let conflict = |timed: bool| if timed { Err(syntax_error()) } else { Ok(true) };
        let kind: &'static str = match opt {
            "keepttl" if set => {
                self.keep = true;
                return conflict(self.timed.is_some());
            }
            "persist" if !set => {
                self.persist = true;
                return conflict(self.timed.is_some());
            }
            "ex" => "ex",
            "px" => "px",
            "exat" => "exat",
            "pxat" => "pxat",
            _ => return Ok(false),
        };
        if self.keep || self.persist || self.timed.as_ref().is_some_and(|(k, _)| *k != kind) {
            return Err(syntax_error());
        }
        self.timed = Some((kind, args.arg()?));
        Ok(true)
    }

    /// The expiry the options ask for, `default` if none was given.
    ///
    /// # Errors
    /// The expiry value's errors.
    pub fn resolve(&self, args: &Args, default: Expiry) -> Result<Expiry, Reply> {
        let command = String::from_utf8_lossy(args.name()).to_ascii_lowercase();
        match &self.timed {
            Some((kind, value)) => {
                let (secs, relative) = (kind.starts_with('e'), kind.len() == 2);
                expiry_arg(value, secs, relative, &command, args.limits.now_ms)
            }
            None if self.keep => Ok(Expiry::Keep),
            None if self.persist => Ok(Expiry::Clear),
            None => Ok(default),
        }
    }
}

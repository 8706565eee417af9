//! Typed access to a command's arguments, in order, with Redis's error texts: a
//! command's parser asks for "a key", "an integer", "an option" and never indexes
//! the argument list itself. The command table has already checked the arity, so a
//! missing argument here means a malformed option list: a syntax error, as in Redis.

use crate::number::{parse_redis_float, parse_redis_int, NOT_AN_INTEGER, NOT_A_FLOAT};
use crate::reply::{syntax_error, Reply};
use bytes::Bytes;

/// What parsing may depend on besides the arguments.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest value (and string) accepted.
    pub max_value_bytes: usize,
    /// Now, in ms since the epoch, on the parsing process's clock (Redis checks that a
    /// relative expiry does not overflow when added to it).
    pub now_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_value_bytes: 1024 * 1024,
            now_ms: 0,
        }
    }
}

/// The error for a value above the configured limit.
pub const TOO_LARGE: &str = "string exceeds maximum allowed size (max-value-bytes)";

/// The options of a `SCAN`-family command.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanOptions {
    /// `MATCH`: a glob-style pattern.
    pub pattern: Option<Bytes>,
    /// `COUNT`: the hint of how much one call returns.
    pub count: u64,
    /// `TYPE`: a type name.
    pub kind: Option<Bytes>,
}

/// A cursor over one command's arguments (the command name excluded).
#[derive(Debug)]
pub struct Args<'a> {
    all: &'a [Bytes],
    pos: usize,
    /// Limits the parser checks against.
    pub limits: Limits,
}

impl<'a> Args<'a> {
    /// The arguments of `all` (whose first element is the command name).
    pub fn new(all: &'a [Bytes], limits: Limits) -> Self {
        Self {
            all,
            pos: 1.min(all.len()),
            limits,
        }
    }

    /// The command name as sent.
    pub fn name(&self) -> &'a [u8] {
        self.all.first().map_or(&[], |n| n.as_ref())
    }

    /// Arguments not consumed yet.
    pub fn remaining(&self) -> usize {
        self.all.len() - self.pos
    }

    /// Whether every argument was consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument as it was sent.
    ///
    /// # Errors
    /// A syntax error when there is none.
    pub fn arg(&mut self) -> Result<Bytes, Reply> {
        let arg = self.all.get(self.pos).cloned().ok_or_else(syntax_error)?;
        self.pos += 1;
        Ok(arg)
    }

    /// The next argument, which names a key.
    ///
    /// # Errors
    /// A syntax error when there is none.
    pub fn key(&mut self) -> Result<Bytes, Reply> {
        self.arg()
    }

    /// The next argument, a value to store: at most `max_value_bytes` long.
    ///
    /// # Errors
    /// A syntax error when there is none; Redis-style error above the limit.
    pub fn value(&mut self) -> Result<Bytes, Reply> {
        let value = self.arg()?;
        self.sized(value)
    }

    /// `value` if it is at most `max_value_bytes` long.
    ///
    /// # Errors
    /// Redis-style error above the limit.
    pub fn sized(&self, value: Bytes) -> Result<Bytes, Reply> {
        if value.len() > self.limits.max_value_bytes {
            return Err(Reply::err(TOO_LARGE));
        }
        Ok(value)
    }

    /// The next argument as an integer, parsed as Redis does.
    ///
    /// # Errors
    /// Redis's "value is not an integer or out of range".
    pub fn int(&mut self) -> Result<i64, Reply> {
        let arg = self.arg()?;
        parse_redis_int(&arg).ok_or_else(|| Reply::err(NOT_AN_INTEGER))
    }

    /// The next argument as a `SCAN`-family cursor.
    ///
    /// # Errors
    /// Redis's "invalid cursor".
    pub fn cursor(&mut self) -> Result<u64, Reply> {
        // As C's strtoul reads it: an optional sign, and a negative number wraps.
        let arg = self.arg()?;
        let text = std::str::from_utf8(&arg).unwrap_or_default();
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        match digits.parse::<u64>() {
            Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(if negative { n.wrapping_neg() } else { n })
            }
            _ => Err(Reply::err("invalid cursor")),
        }
    }

    /// The options of a `SCAN`-family command after its cursor: `MATCH pattern`,
    /// `COUNT n` (at least 1) and, if `with_type`, `TYPE name`.
    ///
    /// # Errors
    /// Redis's syntax and integer errors.
    pub fn scan_options(&mut self, with_type: bool) -> Result<ScanOptions, Reply> {
        let mut options = ScanOptions {
            pattern: None,
            count: 10,
            kind: None,
        };
        while let Some(opt) = self.option() {
            if self.is_empty() {
                return Err(syntax_error());
            }
            match opt.as_str() {
                "match" => options.pattern = Some(self.arg()?),
                "count" => {
                    let n = self.int()?;
                    if n < 1 {
                        return Err(syntax_error());
                    }
                    options.count = n as u64;
                }
                "type" if with_type => options.kind = Some(self.arg()?),
                _ => return Err(syntax_error()),
            }
        }
        Ok(options)
    }

    /// A pop's `count` argument: a non-negative integer (`LPOP`, `SPOP`, `ZPOPMIN`).
    ///
    /// # Errors
    /// Redis's "value is out of range, must be positive" for anything else.
    pub fn positive_count(&mut self) -> Result<u64, Reply> {
        let positive = || Reply::err("value is out of range, must be positive");
        let n = self.int().map_err(|_| positive())?;
        u64::try_from(n).map_err(|_| positive())
    }

    /// `numkeys key [key ...]` of `LMPOP`, `ZMPOP` and their blocking forms, leaving at
    /// least one argument after the keys.
    ///
    /// # Errors
    /// Redis's numkeys and syntax errors.
    pub fn numkeys_keys(&mut self) -> Result<Vec<Bytes>, Reply> {
        let numkeys = self.int().unwrap_or(0);
        if numkeys <= 0 {
            return Err(Reply::err("numkeys should be greater than 0"));
        }
        if numkeys as usize >= self.remaining() {
            return Err(syntax_error());
        }
        (0..numkeys).map(|_| self.key()).collect()
    }

    /// The optional `COUNT count` ending `LMPOP`, `ZMPOP` and their blocking forms
    /// (1 if absent).
    ///
    /// # Errors
    /// Redis's syntax and count errors.
    pub fn mpop_count(&mut self) -> Result<u64, Reply> {
        let mut count = None;
        while let Some(opt) = self.option() {
            if opt != "count" || self.is_empty() || count.is_some() {
                return Err(syntax_error());
            }
            let positive = || Reply::err("count should be greater than 0");
            let n = self.int().map_err(|_| positive())?;
            if n <= 0 {
                return Err(positive());
            }
            count = Some(n as u64);
        }
        Ok(count.unwrap_or(1))
    }

    /// The next argument as a float, parsed as Redis does.
    ///
    /// # Errors
    /// Redis's "value is not a valid float".
    pub fn float(&mut self) -> Result<f64, Reply> {
        let arg = self.arg()?;
        parse_redis_float(&arg).ok_or_else(|| Reply::err(NOT_A_FLOAT))
    }

    /// The next argument, lower-cased, for matching against option names; `None` when
    /// every argument was consumed.
    pub fn option(&mut self) -> Option<String> {
        let arg = self.all.get(self.pos)?;
        self.pos += 1;
        Some(String::from_utf8_lossy(arg).to_ascii_lowercase())
    }

    /// The argument that [`Args::option`] would return next, without consuming it.
    pub fn peek_option(&self) -> Option<String> {
        let arg = self.all.get(self.pos)?;
        Some(String::from_utf8_lossy(arg).to_ascii_lowercase())
    }

    /// The argument consumed last, as it was sent (for error texts that quote it).
    pub fn previous(&self) -> String {
        let arg = self
            .all
            .get(self.pos.wrapping_sub(1))
            .map_or(&[][..], |a| a.as_ref());
        String::from_utf8_lossy(arg).into_owned()
    }

    /// Every argument not consumed yet.
    pub fn rest(&mut self) -> Vec<Bytes> {
        let rest = self.all[self.pos..].to_vec();
        self.pos = self.all.len();
        rest
    }

    /// Fails with a syntax error unless every argument was consumed.
    ///
    /// # Errors
    /// A syntax error when arguments are left.
    pub fn end(&self) -> Result<(), Reply> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(syntax_error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words.iter().map(|w| Bytes::from(w.to_string())).collect()
    }

    #[test]
    fn arguments_are_taken_in_order_with_redis_errors() {
        let all = args(&["SET", "k", "12", "EX", "x"]);
        let mut a = Args::new(&all, Limits::default());
        assert_eq!(a.name(), b"SET");
        assert_eq!(a.key().unwrap(), "k");
        assert_eq!(a.int().unwrap(), 12);
        assert_eq!(a.option().as_deref(), Some("ex"));
        assert_eq!(a.int().unwrap_err(), Reply::err(NOT_AN_INTEGER));
        assert_eq!(a.arg().unwrap_err(), syntax_error());
        assert!(a.end().is_ok());
        let small = Limits {
            max_value_bytes: 1,
            now_ms: 0,
        };
        let all = args(&["SET", "k", "vv"]);
        let mut a = Args::new(&all, small);
        a.key().unwrap();
        assert_eq!(a.value().unwrap_err(), Reply::err(TOO_LARGE));
    }
}

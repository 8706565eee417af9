//! Incremental parser for client requests: RESP multibulk arrays of bulk strings and
//! inline (telnet-style) commands, with Redis's limits and error texts.
//!
//! The parser keeps its position across calls, so a large pipeline arriving in small
//! pieces is parsed once, not re-parsed from the start. A declared length is never used
//! to allocate: buffers grow only as bytes arrive. A [`ProtocolError`] means the client
//! gets `-ERR Protocol error: ...` and the connection is closed, as in Redis.

use bytes::{Buf, Bytes, BytesMut};

/// One argument of a request.
pub type Arg = Bytes;

/// Longest inline request or length line without a newline (Redis: 64 KiB).
pub const MAX_INLINE: usize = 64 * 1024;
/// Most arguments in one multibulk request (Redis: `INT_MAX`).
pub const MAX_MULTIBULK: i64 = i32::MAX as i64;
/// Limits for a client that still has to authenticate (Redis's).
const UNAUTHENTICATED_MULTIBULK: i64 = 10;
const UNAUTHENTICATED_BULK: i64 = 16 * 1024;

/// A malformed request; the text follows Redis's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

impl ProtocolError {
    /// Whether the text is one of Redis's protocol error texts (networking.c), or the
    /// query-buffer limit's: what property tests and the fuzz target check.
    pub fn is_redis_text(&self) -> bool {
        const TEXTS: [&str; 9] = [
            "invalid multibulk length",
            "unauthenticated multibulk length",
            "invalid bulk length",
            "unauthenticated bulk length",
            "request larger than the query buffer limit",
            "too big mbulk count string",
            "too big bulk count string",
            "too big inline request",
            "unbalanced quotes in request",
        ];
        TEXTS.contains(&self.0.as_str())
            || (self.0.starts_with("expected '$', got '") && self.0.ends_with('\''))
    }
}

impl ProtocolError {
    /// The error line's text as Redis sends it: `ERR Protocol error: ...`, with the
    /// offending byte of `expected '$', got '%c'` as that raw byte (the text holds it as
    /// the char of the same number; every other char is ASCII).
    pub fn wire_text(&self) -> Vec<u8> {
        let text = format!("ERR {self}");
        text.chars()
            .map(|c| u8::try_from(c).unwrap_or(b'?'))
            .collect()
    }
}

fn protocol(msg: impl Into<String>) -> ProtocolError {
    ProtocolError(msg.into())
}

/// Parses requests out of a connection's read buffer.
#[derive(Debug)]
pub struct RequestParser {
    max_bulk: usize,
    max_request: usize,
    /// Bytes of the request in progress taken from the buffer so far.
    taken: usize,
    /// Arguments still expected by the multibulk request in progress, and those read.
    pending: Option<(usize, Vec<Bytes>)>,
    /// Length of the bulk string whose header was read but whose body is incomplete.
    bulk_len: Option<usize>,
}

impl RequestParser {
    /// A parser refusing bulk strings longer than `max_bulk` bytes and requests
    /// (all their arguments together) longer than `max_request` bytes.
    pub fn new(max_bulk: usize, max_request: usize) -> Self {
        Self {
            max_bulk,
            max_request,
            taken: 0,
            pending: None,
            bulk_len: None,
        }
    }

    /// The next complete request in `buf`, consuming its bytes; `Ok(None)` if more
    /// bytes are needed. Empty inline lines are skipped, as Redis does. A client that
    /// has not authenticated yet (`authenticated` false) gets Redis's tighter limits.
    ///
    /// # Errors
    /// [`ProtocolError`] for malformed input; the caller must close the connection.
    pub fn next(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.pending.is_none() {
                if buf.is_empty() {
                    return Ok(None);
                }
                if buf[0] != b'*' {
                    match parse_inline(buf)? {
                        Some(args) if args.is_empty() => continue,
                        other => return Ok(other),
                    }
                }
                let Some(count) = read_length_line(buf, b'*', "mbulk")? else {
                    return Ok(None);
                };
                if count > MAX_MULTIBULK {
                    return Err(protocol("invalid multibulk length"));
                }
                if count > UNAUTHENTICATED_MULTIBULK && !authenticated {
                    return Err(protocol("unauthenticated multibulk length"));
                }
                if count <= 0 {
                    continue;
                }
                self.taken = 0;
                self.pending = Some((
                    count as usize,
                    Vec::with_capacity((count as usize).min(1024)),
                ));
            }
            if !self.read_bulks(buf, authenticated)? {
                return Ok(None);
            }
            let (_, args) = self.pending.take().unwrap_or_default();
            return Ok(Some(args));
        }
    }

    /// Reads bulk strings of the pending request; true once it is complete.
    fn read_bulks(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<bool, ProtocolError> {
        loop {
            let Some((remaining, args)) = self.pending.as_mut() else {
                return Ok(true);
            };
            if *remaining == 0 {
                return Ok(true);
            }
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    if buf[0] != b'$' {
                        return Err(protocol(format!("expected '$', got '{}'", buf[0] as char)));
                    }
                    let Some(len) = read_length_line(buf, b'$', "bulk")? else {
                        return Ok(false);
                    };
                    if len < 0 || len as u64 > self.max_bulk as u64 {
                        return Err(protocol("invalid bulk length"));
                    }
                    if len > UNAUTHENTICATED_BULK && !authenticated {
                        return Err(protocol("unauthenticated bulk length"));
                    }
                    self.taken = self.taken.saturating_add(len as usize);
                    if self.taken > self.max_request {
                        return Err(protocol("request larger than the query buffer limit"));
                    }
                    self.bulk_len = Some(len as usize);
                    len as usize
                }
            };
            if buf.len() < len + 2 {
                buf.reserve(len + 2 - buf.len());
                return Ok(false);
            }
            let arg = buf.split_to(len).freeze();
            buf.advance(2);
            args.push(arg);
            *remaining -= 1;
            self.bulk_len = None;
        }
    }
}

/// Reads `<prefix><integer>\r\n`; `None` if the line is incomplete.
fn read_length_line(
    buf: &mut BytesMut,
    prefix: u8,
    what: &str,
) -> Result<Option<i64>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\r') else {
        if buf.len() > MAX_INLINE {
            return Err(protocol(format!("too big {what} count string")));
        }
        return Ok(None);
    };
    if buf.len() < nl + 2 {
        return Ok(None);
    }
    debug_assert_eq!(buf[0], prefix);
    let digits = std::str::from_utf8(&buf[1..nl])
        .ok()
        .and_then(|s| s.parse::<i64>().ok());
    let invalid = if prefix == b'*' {
        "invalid multibulk length"
    } else {
        "invalid bulk length"
    };
    let value = digits.ok_or_else(|| protocol(invalid))?;
    buf.advance(nl + 2);
    Ok(Some(value))
}

/// Parses one inline command line; `None` if no full line has arrived.
fn parse_inline(buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_INLINE {
            return Err(protocol("too big inline request"));
        }
        return Ok(None);
    };
    let mut line = buf.split_to(nl + 1);
    line.truncate(nl);
    if line.last() == Some(&b'\r') {
        line.truncate(nl - 1);
    }
    split_args(&line)
        .map(Some)
        .ok_or_else(|| protocol("unbalanced quotes in request"))
}

/// Splits a line into arguments with Redis's `sdssplitargs` rules: whitespace
/// separates, "double quotes" take `\n \r \t \b \a \\ \"` and `\xHH` escapes, 'single
/// quotes' take only `\'`, and a closing quote must be followed by a space or the end.
pub fn split_args(line: &[u8]) -> Option<Vec<Arg>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Some(args);
        }
        let mut arg = Vec::new();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = line.get(i).copied();
            if in_double {
                match c? {
                    b'\\'
                        if line.get(i + 1) == Some(&b'x')
                            && line.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
                            && line.get(i + 3).is_some_and(u8::is_ascii_hexdigit) =>
                    {
                        let hex = std::str::from_utf8(&line[i + 2..i + 4]).ok()?;
                        arg.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 3;
                    }
                    b'\\' if i + 1 < line.len() => {
                        i += 1;
                        arg.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    b'"' => {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => arg.push(other),
                }
            } else if in_single {
                match c? {
                    b'\\' if line.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        arg.push(b'\'');
                    }
                    b'\'' => {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => arg.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(b) if b.is_ascii_whitespace() => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => arg.push(other),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(arg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut parser = RequestParser::new(1024, 4096);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(args) = parser.next(&mut buf, true)? {
            out.push(args);
        }
        Ok(out)
    }

    #[test]
    fn multibulk_arriving_byte_by_byte() {
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nPING\r\n";
        let mut parser = RequestParser::new(1024, 4096);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in input {
            buf.extend_from_slice(&[*b]);
            while let Some(args) = parser.next(&mut buf, true).unwrap() {
                got.push(args);
            }
        }
        assert_eq!(
            got,
            vec![
                vec![Bytes::from("GET"), Bytes::from("a")],
                vec![Bytes::from("PING")]
            ]
        );
    }

    #[test]
    fn redis_protocol_errors() {
        let err = |input: &[u8]| parse_all(input).unwrap_err().to_string();
        assert_eq!(
            err(b"*2\r\n+x\r\n"),
            "Protocol error: expected '$', got '+'"
        );
        // Found by the fuzz target: Redis sends the offending byte raw (`%c`), not
        // UTF-8 encoded.
        let e = parse_all(b"*1\r\n\xe9\r\n").unwrap_err();
        assert_eq!(
            e.wire_text(),
            b"ERR Protocol error: expected '$', got '\xe9'"
        );
        assert_eq!(err(b"*abc\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(
            err(b"*2147483648\r\n"),
            "Protocol error: invalid multibulk length"
        );
        let chunk = [&b"$1000\r\n"[..], &[b'a'; 1000], b"\r\n"].concat();
        let big_request = [b"*6\r\n$3\r\nSET\r\n".to_vec(), chunk.repeat(5)].concat();
        assert_eq!(
            err(&big_request),
            "Protocol error: request larger than the query buffer limit"
        );
        assert_eq!(
            err(b"*1\r\n$4294967296\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"*1\r\n$2000\r\n"),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            err(b"SET \"a b\"c\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(&vec![b'a'; MAX_INLINE + 1]),
            "Protocol error: too big inline request"
        );
    }

    #[test]
    fn unauthenticated_clients_get_tighter_limits() {
        let mut parser = RequestParser::new(1 << 20, 1 << 30);
        let mut many = BytesMut::from(&b"*11\r\n"[..]);
        let err = parser.next(&mut many, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Protocol error: unauthenticated multibulk length"
        );
        let mut parser = RequestParser::new(1 << 20, 1 << 30);
        let mut long = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$16385\r\n"[..]);
        let err = parser.next(&mut long, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Protocol error: unauthenticated bulk length"
        );
    }

    #[test]
    fn inline_quoting() {
        let got = parse_all(b"set \"a\\x41\\n\" 'it\\'s'\r\n\r\nping\n").unwrap();
        assert_eq!(
            got[0],
            vec![Bytes::from("set"), Bytes::from("aA\n"), Bytes::from("it's")]
        );
        assert_eq!(got[1], vec![Bytes::from("ping")]);
    }
}

//! Replies and their encoding in RESP2 or RESP3 (chosen per connection by `HELLO`).
//! RESP3-only types degrade the way Redis degrades them for RESP2 clients: maps become
//! flat arrays, doubles bulk strings, booleans integers, nulls `$-1`/`*-1`.

use bytes::{BufMut, Bytes, BytesMut};

/// A reply to one command.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Ok,
    /// A status line.
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

    /// Appends the encoding of `self` for protocol version `proto` (2 or 3).
    pub fn encode(&self, proto: u8, out: &mut BytesMut) {
        let resp3 = proto >= 3;
        match self {
            Reply::Ok => out.put_slice(b"+OK\r\n"),
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(e) => line(out, b'-', sanitize(e).as_bytes()),
            Reply::RawError(e) => {
                let clean: Vec<u8> = e
                    .iter()
                    .map(|b| if matches!(b, b'\r' | b'\n') { b' ' } else { *b })
                    .collect();
                line(out, b'-', &clean);
            }
            Reply::Int(i) => line(out, b':', i.to_string().as_bytes()),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil if resp3 => out.put_slice(b"_\r\n"),
            Reply::Nil => out.put_slice(b"$-1\r\n"),
            Reply::NilArray if resp3 => out.put_slice(b"_\r\n"),
            Reply::NilArray => out.put_slice(b"*-1\r\n"),
            Reply::Array(items) => aggregate(out, b'*', items, proto),
            Reply::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, proto),
            Reply::Map(pairs) => {
                if resp3 {
                    line(out, b'%', pairs.len().to_string().as_bytes());
                } else {
                    line(out, b'*', (pairs.len() * 2).to_string().as_bytes());
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Reply::Double(d) if resp3 => line(out, b',', format_double(*d).as_bytes()),
            Reply::Double(d) => bulk(out, format_double(*d).as_bytes()),
            Reply::Bool(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Bool(b) => line(out, b':', if *b { b"1" } else { b"0" }),
            Reply::Verbatim(text) if resp3 => {
                line(out, b'=', (text.len() + 4).to_string().as_bytes());
                out.put_slice(b"txt:");
                out.put_slice(text.as_bytes());
                out.put_slice(b"\r\n");
            }
            Reply::Verbatim(text) => bulk(out, text.as_bytes()),
        }
    }
}

fn line(out: &mut BytesMut, prefix: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(prefix);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, body: &[u8]) {
    line(out, b'$', body.len().to_string().as_bytes());
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

fn aggregate(out: &mut BytesMut, prefix: u8, items: &[Reply], proto: u8) {
    line(out, prefix, items.len().to_string().as_bytes());
    for item in items {
        item.encode(proto, out);
    }
}

/// Error and status lines cannot hold newlines; Redis replaces them with spaces.
fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\r', '\n']) {
        text.replace(['\r', '\n'], " ").into()
    } else {
        text.into()
    }
}

/// Formats a double as Redis does (`inf`, `-inf`, shortest round-trip otherwise).
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        if d > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(reply: Reply, proto: u8) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.encode(proto, &mut out);
        out.to_vec()
    }

    #[test]
    fn resp2_and_resp3_encodings() {
        assert_eq!(enc(Reply::Nil, 2), b"$-1\r\n");
        assert_eq!(enc(Reply::Nil, 3), b"_\r\n");
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        assert_eq!(enc(map.clone(), 2), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(map, 3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(Reply::err("bad\r\nthing"), 2), b"-ERR bad  thing\r\n");
        assert_eq!(enc(Reply::Bool(true), 3), b"#t\r\n");
    }

    #[test]
    fn encodings_decode_with_an_independent_parser() {
        use redis_protocol::resp2::decode::decode;
        let reply = Reply::Array(vec![
            Reply::bulk("x"),
            Reply::Int(-3),
            Reply::Nil,
            Reply::Ok,
        ]);
        let bytes = enc(reply, 2);
        let (frame, used) = decode(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert!(format!("{frame:?}").contains("Integer(-3)"), "{frame:?}");
    }
}

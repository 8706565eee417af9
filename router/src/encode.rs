//! Replies on the wire: RESP2 or RESP3 (chosen per connection by `HELLO`). RESP3-only
//! types degrade the way Redis degrades them for RESP2 clients: maps become flat
//! arrays, doubles bulk strings, booleans integers, nulls `$-1`/`*-1`.

use bytes::{BufMut, BytesMut};
use tessera_proto::number::format_double;
use tessera_proto::reply::Reply;

/// Appends the encoding of `reply` for protocol version `proto` (2 or 3).
pub fn encode(reply: &Reply, proto: u8, out: &mut BytesMut) {
    let resp3 = proto >= 3;
    match reply {
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
        Reply::Map(pairs) | Reply::Pairs(pairs) => {
            // RESP3: a map, or an array of two-element arrays; RESP2: one flat array.
            let nested = resp3 && matches!(reply, Reply::Pairs(_));
            match (resp3, nested) {
                (true, false) => line(out, b'%', pairs.len().to_string().as_bytes()),
                (true, true) => line(out, b'*', pairs.len().to_string().as_bytes()),
                _ => line(out, b'*', (pairs.len() * 2).to_string().as_bytes()),
            }
            for (k, v) in pairs {
                if nested {
                    out.put_slice(b"*2\r\n");
                }
                encode(k, proto, out);
                encode(v, proto, out);
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
        encode(item, proto, out);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(reply: Reply, proto: u8) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(&reply, proto, &mut out);
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

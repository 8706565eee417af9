//! libFuzzer target for the RESP request parser: the input's first byte chooses where
//! to split the rest into two reads and whether the client is authenticated; parsing
//! must never panic, never yield a request beyond the limits, and fail only with one
//! of Redis's protocol error texts.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tessera_router::parse::{RequestParser, MAX_INLINE};

const MAX_BULK: usize = 64;
const MAX_REQUEST: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let authenticated = control & 1 == 1;
    let cut = (usize::from(control >> 1) * input.len()) / 128;
    let mut parser = RequestParser::new(MAX_BULK, MAX_REQUEST);
    let mut buf = BytesMut::new();
    for piece in [&input[..cut], &input[cut..]] {
        buf.extend_from_slice(piece);
        loop {
            match parser.next(&mut buf, authenticated) {
                Ok(Some(request)) => {
                    let total: usize = request.iter().map(|a| a.len()).sum();
                    assert!(total <= MAX_REQUEST.max(MAX_INLINE));
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(e.is_redis_text(), "{}", e.0);
                    return;
                }
            }
        }
    }
});

//! Property tests of the request parser: arbitrary bytes never panic, never produce a
//! request beyond the limits, and fail only with Redis's protocol error texts; valid
//! pipelines parse the same however the bytes are split. `PROPTEST_CASES` sets the
//! number of cases per property (default 40,000: over 100,000 in all on every CI run).

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tessera_router::parse::{ProtocolError, RequestParser, MAX_INLINE};

const MAX_BULK: usize = 64;
const MAX_REQUEST: usize = 256;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(40_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Feeds `input` in pieces at `cuts` and collects requests until an error.
fn feed(
    input: &[u8],
    cuts: &[usize],
    authenticated: bool,
) -> (Vec<Vec<Bytes>>, Option<ProtocolError>) {
    let mut parser = RequestParser::new(MAX_BULK, MAX_REQUEST);
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut at = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    bounds.sort_unstable();
    bounds.push(input.len());
    for end in bounds {
        if end < at {
            continue;
        }
        buf.extend_from_slice(&input[at..end]);
        at = end;
        loop {
            match parser.next(&mut buf, authenticated) {
                Ok(Some(request)) => requests.push(request),
                Ok(None) => break,
                Err(e) => return (requests, Some(e)),
            }
        }
    }
    (requests, None)
}

fn encode(requests: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut out = Vec::new();
    for request in requests {
        out.extend_from_slice(format!("*{}\r\n", request.len()).as_bytes());
        for arg in request {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// Bytes that look like RESP often enough to reach deep into the parser.
fn resp_ish() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"0".to_vec()),
        Just(b"3".to_vec()),
        Just(b"99999999999999999999".to_vec()),
        Just(b"\"".to_vec()),
        Just(b" ".to_vec()),
        Just(b"GET".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(token, 0..64).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_within_limits(
        input in prop_oneof![proptest::collection::vec(any::<u8>(), 0..2048), resp_ish()],
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        authenticated in any::<bool>(),
    ) {
        let (requests, error) = feed(&input, &cuts, authenticated);
        for request in &requests {
            // Multibulk arguments are capped by MAX_BULK and MAX_REQUEST, inline ones
            // by the 64 KiB line limit.
            let total: usize = request.iter().map(Bytes::len).sum();
            prop_assert!(total <= MAX_REQUEST.max(MAX_INLINE));
        }
        if let Some(e) = error {
            prop_assert!(e.is_redis_text(), "not a Redis protocol error text: {}", e.0);
        }
    }

    #[test]
    fn valid_pipelines_parse_the_same_however_they_are_split(
        requests in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 1..5),
            1..6,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let input = encode(&requests);
        let (parsed, error) = feed(&input, &cuts, true);
        prop_assert!(error.is_none(), "{error:?}");
        let parsed: Vec<Vec<Vec<u8>>> = parsed
            .into_iter()
            .map(|r| r.into_iter().map(|a| a.to_vec()).collect())
            .collect();
        prop_assert_eq!(parsed, requests);
    }

    #[test]
    fn declared_lengths_are_never_trusted(
        count in 0i64..i64::MAX,
        len in 0i64..i64::MAX,
        authenticated in any::<bool>(),
    ) {
        // A huge declared size with few bytes behind it: refused or waiting, never
        // an allocation of the declared size (the test would run out of memory).
        let input = format!("*{count}\r\n${len}\r\nab");
        let (requests, error) = feed(input.as_bytes(), &[], authenticated);
        prop_assert!(requests.is_empty());
        if let Some(e) = error {
            prop_assert!(e.is_redis_text(), "{}", e.0);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn multibulk_arguments_respect_the_bulk_and_request_limits(
        args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 1..8),
    ) {
        let input = encode(std::slice::from_ref(&args));
        let (parsed, error) = feed(&input, &[], true);
        let total: usize = args.iter().map(Vec::len).sum();
        let fits = args.iter().all(|a| a.len() <= MAX_BULK) && total <= MAX_REQUEST;
        if fits {
            prop_assert_eq!(parsed.len(), 1);
        } else {
            prop_assert!(parsed.is_empty());
            let e = error.expect("refused");
            prop_assert!(
                e.0 == "invalid bulk length" || e.0 == "request larger than the query buffer limit",
                "{}", e.0
            );
        }
    }
}

//! Protocol fidelity and bad input, at the byte level: malformed requests get Redis's
//! exact error and a closed connection (checked against a real redis-server), huge
//! pipelines are answered in order, declared lengths are never trusted, and nothing a
//! client sends harms other connections or the data.

#[path = "../tests/harness/mod.rs"]
mod harness;
mod redis_server;
mod resp_client;

use harness::process::DevProcess;
use harness::wait_serving;
use resp_client::{encode, RawClient};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `input` and returns everything the server writes until it closes the
/// connection (or 5 s pass, which means it kept the connection open).
fn exchange<S: Read + Write>(mut stream: S, input: &[u8]) -> (Vec<u8>, bool) {
    stream.write_all(input).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return (out, false)
            }
            Err(_) => return (out, true),
        }
    }
}

fn tcp(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_redis_errors_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let redis = redis_server::RedisServer::start(dir.path());
    let dev = DevProcess::start(&dir.path().join("data"));
    let mut con = wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let _: () = redis::cmd("SET")
        .arg("survivor")
        .arg("yes")
        .query_async(&mut con)
        .await
        .unwrap();

    let too_big_inline = vec![b'a'; 70 * 1024];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("non-numeric multibulk length", b"*abc\r\n".to_vec()),
        (
            "multibulk length above INT_MAX",
            b"*2147483648\r\n".to_vec(),
        ),
        ("non-numeric bulk length", b"*1\r\n$x\r\n".to_vec()),
        ("negative bulk length", b"*1\r\n$-5\r\n".to_vec()),
        (
            "bulk header claiming 4 GB",
            b"*2\r\n$3\r\nSET\r\n$4294967296\r\n".to_vec(),
        ),
        ("not a bulk string", b"*2\r\n$3\r\nGET\r\n:1\r\n".to_vec()),
        ("unbalanced quotes", b"SET \"a b\r\n".to_vec()),
        ("quote followed by text", b"SET \"a\"b c\r\n".to_vec()),
        ("inline line without end", too_big_inline),
        ("ok then garbage", b"PING\r\n*1\r\n+x\r\n".to_vec()),
    ];
    let mut mismatches = Vec::new();
    for (what, input) in &cases {
        let from_redis = exchange(redis.connect(), input);
        let tessera = exchange(tcp(dev.addr), input);
        if from_redis != tessera {
            mismatches.push(format!(
                "{what}: redis {:?} closed={} / tessera {:?} closed={}",
                String::from_utf8_lossy(&from_redis.0),
                from_redis.1,
                String::from_utf8_lossy(&tessera.0),
                tessera.1
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // The server, other connections and the data are unharmed.
    let survivor: String = redis::cmd("GET")
        .arg("survivor")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(survivor, "yes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10000_command_pipeline_in_one_write_is_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let stream = tcp(dev.addr);
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut client = RawClient::new(stream);
    let mut pipeline = Vec::new();
    for i in 0..10_000 {
        // Pairs of SET and GET of the same key.
        let key = format!("p{}", (i / 2) % 100);
        if i % 2 == 0 {
            pipeline.extend(encode(&[b"SET", key.as_bytes(), i.to_string().as_bytes()]));
        } else {
            pipeline.extend(encode(&[b"GET", key.as_bytes()]));
        }
    }
    client.send_raw(&pipeline).unwrap();
    for i in 0..10_000 {
        let reply = client.read_reply().unwrap();
        if i % 2 == 0 {
            assert_eq!(reply, b"+OK\r\n", "reply {i}");
        } else {
            // A GET right after the SET of the same key on the same connection sees it.
            let value = (i - 1).to_string();
            let expected = format!("${}\r\n{}\r\n", value.len(), value);
            assert_eq!(String::from_utf8_lossy(&reply), expected, "reply {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_at_the_limit_are_stored_and_above_it_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let mut client = RawClient::new(tcp(dev.addr));
    let limit = 1024 * 1024;
    let at = vec![b'x'; limit];
    assert_eq!(client.call(&[b"SET", b"big", &at]).unwrap(), b"+OK\r\n");
    let above = vec![b'y'; limit + 1];
    assert_eq!(
        String::from_utf8_lossy(&client.call(&[b"SET", b"big", &above]).unwrap()),
        "-ERR string exceeds maximum allowed size (max-value-bytes)\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&client.call(&[b"APPEND", b"big", b"z"]).unwrap()),
        "-ERR string exceeds maximum allowed size (max-value-bytes)\r\n"
    );
    let reply = client.call(&[b"STRLEN", b"big"]).unwrap();
    assert_eq!(
        reply,
        format!(":{limit}\r\n").as_bytes(),
        "the stored value is unchanged"
    );
    assert_eq!(
        client.call(&[b"PING"]).unwrap(),
        b"+PONG\r\n",
        "connection still usable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_over_maxclients_are_refused_and_auth_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start_with(
        &dir.path().join("data"),
        &[
            "--maxclients",
            "2",
            "--requirepass",
            "pw",
            "--query-buffer-limit",
            "100000",
        ],
    );
    let mut first = RawClient::new(tcp(dev.addr));
    assert_eq!(
        String::from_utf8_lossy(&first.call(&[b"GET", b"k"]).unwrap()),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&first.call(&[b"AUTH", b"wrong"]).unwrap()),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(first.call(&[b"AUTH", b"pw"]).unwrap(), b"+OK\r\n");
    let mut second = RawClient::new(tcp(dev.addr));
    assert_eq!(
        second.call(&[b"AUTH", b"default", b"pw"]).unwrap(),
        b"+OK\r\n"
    );
    let (reply, closed) = exchange(tcp(dev.addr), &encode(&[b"PING"]));
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR max number of clients reached\r\n"
    );
    assert!(closed);
    drop(first);
    let mut third = harness::wait_for(Duration::from_secs(10), "a free client slot", || async {
        let mut client = RawClient::new(tcp(dev.addr));
        (client.call(&[b"AUTH", b"pw"]).ok()? == b"+OK\r\n").then_some(client)
    })
    .await;
    assert_eq!(third.call(&[b"PING"]).unwrap(), b"+PONG\r\n");
    // CONFIG SET maxclients takes effect at once.
    assert_eq!(
        third
            .call(&[b"CONFIG", b"SET", b"maxclients", b"3"])
            .unwrap(),
        b"+OK\r\n"
    );
    let mut fourth = RawClient::new(tcp(dev.addr));
    assert_eq!(fourth.call(&[b"AUTH", b"pw"]).unwrap(), b"+OK\r\n");
    let reply = third.call(&[b"CONFIG", b"GET", b"maxclients"]).unwrap();
    assert_eq!(reply, b"*2\r\n$10\r\nmaxclients\r\n$1\r\n3\r\n");
    let reply = third.call(&[b"CONFIG", b"SET", b"save", b""]).unwrap();
    assert!(String::from_utf8_lossy(&reply).contains("cannot change it at run time"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_above_the_query_buffer_limit_is_refused_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start_with(
        &dir.path().join("data"),
        &["--query-buffer-limit", "100000"],
    );
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let too_big = encode(&[b"SET", b"k", &[b'v'; 60_000], &[b'w'; 60_000]]);
    let (reply, closed) = exchange(tcp(dev.addr), &too_big);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR Protocol error: request larger than the query buffer limit\r\n"
    );
    assert!(closed);
    let mut client = RawClient::new(tcp(dev.addr));
    assert_eq!(
        client.call(&[b"SET", b"k", &[b'v'; 60_000]]).unwrap(),
        b"+OK\r\n",
        "below the limit"
    );
}

//! Differential test: the same commands go to a real `redis-server` (Debian's 7.0) and
//! to Tessera, and the raw reply bytes must be identical. This is how Tessera stays
//! byte-exact with Redis's replies, error texts and edge cases.

#[path = "../tests/harness/mod.rs"]
mod harness;
mod redis_server;
mod resp_client;

use harness::process::DevProcess;
use harness::wait_serving;
use resp_client::RawClient;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn tessera_client(dev: &DevProcess) -> RawClient<TcpStream> {
    let stream = TcpStream::connect(dev.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    RawClient::new(stream)
}

/// Commands whose replies must be byte-identical, in order, on a flushed database.
///
/// Left out on purpose: `SELECT`/`COPY ... DB` with a database other than 0 (Tessera
/// has one database), `CLIENT SETINFO` (Redis 7.2; redis-rs sends it), and `COMMAND
/// INFO` (Tessera reports no key specs yet).
const SCRIPT: &[&[&str]] = &[
    // Strings.
    &["SET", "s", "hello"],
    &["GET", "s"],
    &["GET", "missing"],
    &["SET", "s", "v2", "GET"],
    &["SET", "s", "v3", "NX"],
    &["SET", "s", "v3", "XX"],
    &["SET", "new", "v", "XX"],
    &["SET", "new", "v", "NX", "GET"],
    &["SET", "s", "v", "NX", "XX"],
    &["SET", "s", "v", "EX", "10", "PX", "100"],
    &["SET", "s", "v", "KEEPTTL", "EX", "10"],
    &["SET", "s", "v", "EX", "0"],
    &["SET", "s", "v", "EX", "-5"],
    &["SET", "s", "v", "EX", "abc"],
    &["SET", "s", "v", "PX", "9223372036854775807"],
    &["SET", "s", "v", "EX", "9223372036854775"],
    &["SET", "s", "v", "FOO"],
    &["SET", "s"],
    &["SET", "e", "v", "EX", "100"],
    &["TTL", "e"],
    &["SET", "e", "v2", "KEEPTTL"],
    &["TTL", "e"],
    &["SET", "e", "v3"],
    &["TTL", "e"],
    &["SETNX", "nx", "1"],
    &["SETNX", "nx", "2"],
    &["GET", "nx"],
    &["SETEX", "sx", "100", "v"],
    &["TTL", "sx"],
    &["SETEX", "sx", "0", "v"],
    &["SETEX", "sx", "x", "v"],
    &["PSETEX", "px", "100000", "v"],
    &["TTL", "px"],
    &["PSETEX", "px", "-1", "v"],
    &["GETSET", "gs", "a"],
    &["GETSET", "gs", "b"],
    &["GETDEL", "gs"],
    &["GETDEL", "gs"],
    &["SET", "gx", "v"],
    &["GETEX", "gx", "EX", "100"],
    &["TTL", "gx"],
    &["GETEX", "gx", "PERSIST"],
    &["TTL", "gx"],
    &["GETEX", "gx", "EX", "0"],
    &["GETEX", "gx", "PERSIST", "EX", "10"],
    &["GETEX", "gx", "FOO"],
    &["GETEX", "nosuch", "EX", "10"],
    &["MSET", "m1", "a", "m2", "b"],
    &["MSET", "m1", "a", "m2"],
    &["MGET", "m1", "missing", "m2", "m1"],
    &["MSETNX", "m1", "x", "m3", "y"],
    &["MSETNX", "m3", "x", "m4", "y"],
    &["MGET", "m3", "m4"],
    &["APPEND", "ap", "abc"],
    &["APPEND", "ap", "def"],
    &["GET", "ap"],
    &["STRLEN", "ap"],
    &["STRLEN", "missing"],
    &["INCR", "n"],
    &["INCRBY", "n", "10"],
    &["DECR", "n"],
    &["DECRBY", "n", "5"],
    &["INCRBY", "n", "abc"],
    &["INCRBY", "n", "9223372036854775807"],
    &["DECRBY", "n", "-9223372036854775808"],
    &["INCR", "s"],
    &["SET", "big", "9223372036854775807"],
    &["INCR", "big"],
    &["SET", "lead", "007"],
    &["INCR", "lead"],
    &["SET", "sp", " 1"],
    &["INCR", "sp"],
    &["INCRBYFLOAT", "f", "10.5"],
    &["INCRBYFLOAT", "f", "0.1"],
    &["INCRBYFLOAT", "f", "-5"],
    &["INCRBYFLOAT", "f", "abc"],
    &["INCRBYFLOAT", "s", "1"],
    &["SET", "f2", "5.0e3"],
    &["INCRBYFLOAT", "f2", "2.0e2"],
    &["INCRBYFLOAT", "f2", "inf"],
    &["SET", "r", "This is a string"],
    &["GETRANGE", "r", "0", "3"],
    &["GETRANGE", "r", "-3", "-1"],
    &["GETRANGE", "r", "0", "-1"],
    &["GETRANGE", "r", "10", "100"],
    &["GETRANGE", "r", "5", "2"],
    &["GETRANGE", "r", "-1", "-5"],
    &["GETRANGE", "missing", "0", "-1"],
    &["GETRANGE", "r", "a", "1"],
    &["SUBSTR", "r", "0", "3"],
    &["SETRANGE", "sr", "5", "hello"],
    &["GET", "sr"],
    &["SETRANGE", "sr", "0", "HE"],
    &["GET", "sr"],
    &["SETRANGE", "sr", "-1", "x"],
    &["SETRANGE", "empty", "3", ""],
    &["EXISTS", "empty"],
    &["SETRANGE", "sr", "2", ""],
    &["SET", "l1", "ohmytext"],
    &["SET", "l2", "mynewtext"],
    &["LCS", "l1", "l2"],
    &["LCS", "l1", "l2", "LEN"],
    &["LCS", "l1", "l2", "IDX"],
    &["LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    &["LCS", "l1", "l2", "IDX", "LEN"],
    &["LCS", "l1", "l2", "FOO"],
    &["LCS", "l1", "missing"],
    // Keyspace.
    &["DEL", "m1", "m2", "missing", "m1"],
    &["UNLINK", "m3"],
    &["EXISTS", "m4", "m4", "missing"],
    &["TOUCH", "m4", "missing"],
    &["TYPE", "m4"],
    &["TYPE", "missing"],
    &["RENAME", "m4", "m5"],
    &["GET", "m5"],
    &["RENAME", "missing", "x"],
    &["RENAME", "m5", "m5"],
    &["RENAMENX", "m5", "m5"],
    &["SET", "other", "o"],
    &["RENAMENX", "m5", "other"],
    &["RENAMENX", "m5", "m6"],
    &["SET", "ttlsrc", "v", "EX", "100"],
    &["RENAME", "ttlsrc", "ttldst"],
    &["TTL", "ttldst"],
    &["COPY", "m6", "m7"],
    &["COPY", "m6", "m7"],
    &["COPY", "m6", "m7", "REPLACE"],
    &["COPY", "m6", "m6"],
    &["COPY", "missing", "m8"],
    &["COPY", "m6", "m9", "DB", "0"],
    &["COPY", "m6", "m9", "FOO"],
    &["COPY", "ttldst", "ttlcopy"],
    &["TTL", "ttlcopy"],
    // Expiry.
    &["SET", "x", "v"],
    &["TTL", "x"],
    &["PTTL", "x"],
    &["TTL", "missing"],
    &["PTTL", "missing"],
    &["EXPIRETIME", "x"],
    &["EXPIRETIME", "missing"],
    &["EXPIRE", "x", "100"],
    &["TTL", "x"],
    &["EXPIRE", "x", "200", "NX"],
    &["EXPIRE", "x", "200", "XX"],
    &["TTL", "x"],
    &["EXPIRE", "x", "100", "GT"],
    &["EXPIRE", "x", "300", "GT"],
    &["EXPIRE", "x", "400", "LT"],
    &["EXPIRE", "x", "250", "LT"],
    &["TTL", "x"],
    &["EXPIRE", "x", "100", "NX", "XX"],
    &["EXPIRE", "x", "100", "GT", "LT"],
    &["EXPIRE", "x", "100", "FOO"],
    &["EXPIRE", "x", "abc"],
    &["EXPIRE", "x", "9223372036854775807"],
    &["EXPIRE", "missing", "100"],
    &["PERSIST", "x"],
    &["PERSIST", "x"],
    &["PERSIST", "missing"],
    &["EXPIRE", "x", "100", "XX"],
    &["EXPIRE", "x", "100", "GT"],
    &["EXPIRE", "x", "100", "LT"],
    &["TTL", "x"],
    &["PEXPIRE", "x", "200000"],
    &["TTL", "x"],
    &["EXPIREAT", "x", "4102444800"],
    &["EXPIRETIME", "x"],
    &["PEXPIRETIME", "x"],
    &["PEXPIREAT", "x", "4102444800123"],
    &["PEXPIRETIME", "x"],
    &["EXPIRETIME", "x"],
    &["EXPIRE", "x", "-1"],
    &["EXISTS", "x"],
    &["SET", "y", "v"],
    &["EXPIREAT", "y", "1"],
    &["GET", "y"],
    &["SET", "z", "v", "EXAT", "1"],
    &["GET", "z"],
    // Transactions.
    &["MULTI"],
    &["SET", "t1", "1"],
    &["INCR", "t1"],
    &["GET", "t1"],
    &["INCR", "s"],
    &["PING"],
    &["EXEC"],
    &["EXEC"],
    &["DISCARD"],
    &["MULTI"],
    &["MULTI"],
    &["SET", "t2", "x"],
    &["DISCARD"],
    &["GET", "t2"],
    &["MULTI"],
    &["SET", "t3"],
    &["SET", "t3", "x"],
    &["EXEC"],
    &["GET", "t3"],
    &["MULTI"],
    &["NOSUCHCOMMAND"],
    &["EXEC"],
    &["MULTI"],
    &["SET", "t4", "v", "NX", "XX"],
    &["SET", "t4", "v"],
    &["EXEC"],
    &["WATCH", "t4"],
    &["MULTI"],
    &["WATCH", "t4"],
    &["GET", "t4"],
    &["EXEC"],
    &["UNWATCH"],
    // Connection and server.
    &["PING"],
    &["PING", "hi"],
    &["PING", "a", "b"],
    &["ECHO", "hey"],
    &["ECHO"],
    &["SELECT", "0"],
    &["SELECT", "x"],
    &["AUTH", "pw"],
    &["CLIENT", "SETNAME", "my-conn"],
    &["CLIENT", "GETNAME"],
    &["CLIENT", "SETNAME", "bad name"],
    &["CLIENT", "NOSUCH"],
    &["COMMAND", "GETKEYS", "SET", "a", "b"],
    &["COMMAND", "GETKEYS", "MSET", "a", "b", "c", "d"],
    &["COMMAND", "GETKEYS", "PING"],
    &["COMMAND", "GETKEYS", "GET"],
    &["COMMAND", "GETKEYS", "NOSUCH", "a"],
    &["DBSIZE"],
    &["FLUSHALL", "BAD"],
    &["FLUSHALL", "SYNC"],
    &["DBSIZE"],
    &["RANDOMKEY"],
    &["SET", "only", "1"],
    &["RANDOMKEY"],
    &["KEYS", "on*"],
    &["SCAN", "0", "COUNT", "0"],
    &["SCAN", "abc"],
    &["SCAN", "0", "FOO", "bar"],
    &["NOSUCH", "arg"],
    &["GET", "a", "b"],
    &["HELLO", "4"],
    &["HELLO", "x"],
];

fn diff(
    redis: &mut RawClient<UnixStream>,
    tessera: &mut RawClient<TcpStream>,
    script: &[&[&str]],
) -> Vec<String> {
    let mut mismatches = Vec::new();
    for command in script {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        let expected = redis.call(&args).expect("redis reply");
        let got = tessera.call(&args).expect("tessera reply");
        if expected != got {
            mismatches.push(format!(
                "{command:?}\n    redis:   {:?}\n    tessera: {:?}",
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    mismatches
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_byte_identical_to_redis() {
    let dir = tempfile::tempdir().unwrap();
    let redis_server = redis_server::RedisServer::start(dir.path());
    let mut redis = RawClient::new(redis_server.connect());
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let mut tessera = tessera_client(&dev);

    let mut mismatches = diff(&mut redis, &mut tessera, SCRIPT);
    // The same again in RESP3 (after HELLO 3, whose reply differs in the client id).
    redis.call(&[b"HELLO", b"3"]).unwrap();
    tessera.call(&[b"HELLO", b"3"]).unwrap();
    mismatches.extend(diff(&mut redis, &mut tessera, &[&["FLUSHALL"]]));
    mismatches.extend(diff(&mut redis, &mut tessera, SCRIPT));
    assert!(
        mismatches.is_empty(),
        "{} replies differ from Redis:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

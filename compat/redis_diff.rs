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

#[path = "diff_scripts/core.rs"]
mod core_commands;

use core_commands::SCRIPT;

/// A script of `diff_scripts/`: one command per line, split as redis-cli splits a
/// line (`#` lines are comments).
fn script(text: &str) -> Vec<Vec<tessera_router::parse::Arg>> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| tessera_router::parse::split_args(line.as_bytes()).expect("a valid line"))
        .collect()
}

/// An INFO reply with its timings masked (`usec=`, `usec_per_call=`, percentiles), its
/// length header dropped and its lines sorted; other replies as they are.
fn mask_timings(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let Some((head, body)) = text.split_once("\r\n") else {
        return reply.to_vec();
    };
    if !head.starts_with('$') && !head.starts_with('=') {
        return reply.to_vec();
    }
    let mut lines: Vec<String> = body
        .split("\r\n")
        .map(|line| {
            line.split(',')
                .map(|field| match field.rsplit_once('=') {
                    Some((key, _))
                        if ["usec", "usec_per_call", "p50", "p99", "p99.9"]
                            .contains(&key.rsplit(':').next().unwrap_or(key)) =>
                    {
                        format!("{key}=#")
                    }
                    _ => field.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    lines.sort();
    lines.join("\n").into_bytes()
}

fn diff<A: AsRef<[u8]>>(
    redis: &mut RawClient<UnixStream>,
    tessera: &mut RawClient<TcpStream>,
    script: &[&[A]],
) -> Vec<String> {
    diff_with(redis, tessera, script, |r| r.to_vec())
}

fn diff_with<A: AsRef<[u8]>>(
    redis: &mut RawClient<UnixStream>,
    tessera: &mut RawClient<TcpStream>,
    script: &[&[A]],
    normalize: impl Fn(&[u8]) -> Vec<u8>,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    for command in script {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_ref()).collect();
        let expected = normalize(&redis.call(&args).expect("redis reply"));
        let got = normalize(&tessera.call(&args).expect("tessera reply"));
        if expected != got {
            let shown: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into())
                .collect();
            mismatches.push(format!(
                "{shown:?}\n    redis:   {:?}\n    tessera: {:?}",
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
    let redis_server =
        redis_server::RedisServer::start_with(dir.path(), &["--proto-max-bulk-len", "1mb"]);
    let mut redis = RawClient::new(redis_server.connect());
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let mut tessera = tessera_client(&dev);

    let scripts: Vec<Vec<Vec<tessera_router::parse::Arg>>> = [
        include_str!("diff_scripts/bitmaps.txt"),
        include_str!("diff_scripts/hashes.txt"),
        include_str!("diff_scripts/sets.txt"),
        include_str!("diff_scripts/lists.txt"),
        include_str!("diff_scripts/zsets.txt"),
        include_str!("diff_scripts/sort.txt"),
        include_str!("diff_scripts/introspection.txt"),
    ]
    .into_iter()
    .map(script)
    .collect();
    assert!(scripts[0].len() > 300, "the bitmap script was read");
    let mut mismatches = Vec::new();
    for resp3 in [false, true] {
        if resp3 {
            // The same again in RESP3 (after HELLO 3, whose reply differs in the client id).
            redis.call(&[b"HELLO", b"3"]).unwrap();
            tessera.call(&[b"HELLO", b"3"]).unwrap();
            mismatches.extend(diff(&mut redis, &mut tessera, &[&["FLUSHALL"]]));
        }
        mismatches.extend(diff(&mut redis, &mut tessera, SCRIPT));
        for lines in &scripts {
            let commands: Vec<&[_]> = lines.iter().map(Vec::as_slice).collect();
            mismatches.extend(diff(&mut redis, &mut tessera, &[&["FLUSHALL"]]));
            mismatches.extend(diff(&mut redis, &mut tessera, &commands));
        }
        let timed = script(include_str!("diff_scripts/introspection_timed.txt"));
        let commands: Vec<&[_]> = timed.iter().map(Vec::as_slice).collect();
        mismatches.extend(diff_with(&mut redis, &mut tessera, &commands, mask_timings));
    }
    assert!(
        mismatches.is_empty(),
        "{} replies differ from Redis:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

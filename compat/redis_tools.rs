//! Redis's own tools against a real `tessera dev`: `redis-cli --pipe` mass insertion,
//! `redis-cli -x`, and `redis-benchmark` (which must see no error reply).

#[path = "../tests/harness/mod.rs"]
mod harness;
mod resp_client;

use harness::process::DevProcess;
use harness::wait_serving;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(cmd: &mut Command, stdin: &[u8]) -> (String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-tools must be installed (scripts/test installs them)");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_pipe_inserts_100000_keys_and_x_reads_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let port = dev.addr.port().to_string();

    let mut mass = Vec::new();
    for i in 0..100_000 {
        let (key, value) = (format!("mass:{i}"), format!("v{i}"));
        mass.extend(resp_client::encode(&[
            b"SET",
            key.as_bytes(),
            value.as_bytes(),
        ]));
    }
    let (out, _) = run(
        Command::new("redis-cli").args(["-p", &port, "--pipe"]),
        &mass,
    );
    assert!(out.contains("errors: 0, replies: 100000"), "{out}");
    let (dbsize, _) = run(Command::new("redis-cli").args(["-p", &port, "DBSIZE"]), b"");
    assert_eq!(dbsize, "100000\n");
    let (value, _) = run(
        Command::new("redis-cli").args(["-p", &port, "GET", "mass:99999"]),
        b"",
    );
    assert_eq!(value, "v99999\n");

    let (ok, _) = run(
        Command::new("redis-cli").args(["-p", &port, "-x", "SET", "from-stdin"]),
        b"line one\nline two\n",
    );
    assert_eq!(ok, "OK\n");
    let (got, _) = run(
        Command::new("redis-cli").args(["-p", &port, "--no-raw", "GET", "from-stdin"]),
        b"",
    );
    assert_eq!(got, "\"line one\\nline two\\n\"\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_benchmark_sees_no_error_reply() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let port = dev.addr.port().to_string();
    let (out, err) = run(
        Command::new("redis-benchmark").args([
            "-p",
            &port,
            "-t",
            "set,get,incr,mset",
            "-n",
            "20000",
            "-q",
        ]),
        b"",
    );
    let all = format!("{out}{err}");
    for test in ["SET", "GET", "INCR", "MSET"] {
        assert!(
            all.contains(&format!("{test}:")) || all.contains(&format!("{test} (")),
            "{test} ran: {all}"
        );
    }
    assert!(!all.to_ascii_lowercase().contains("error"), "{all}");
}

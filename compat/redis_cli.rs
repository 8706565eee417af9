//! `redis-cli` against a real `tessera dev` process: one-shot commands, a session fed on
//! stdin that keeps working after an error, and `--scan`.

#[path = "../tests/harness/mod.rs"]
mod harness;

use harness::process::DevProcess;
use harness::wait_serving;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn redis_cli(port: u16, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli must be installed (scripts/test installs redis-tools)");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_commands_errors_and_scan() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let port = dev.addr.port();

    assert_eq!(redis_cli(port, &["SET", "a", "1"], None), "OK\n");
    assert_eq!(redis_cli(port, &["GET", "a"], None), "1\n");
    assert_eq!(redis_cli(port, &["SCAN", "0"], None), "0\na\n");
    assert_eq!(redis_cli(port, &["DEL", "a"], None), "1\n");
    assert_eq!(redis_cli(port, &["GET", "a"], None), "\n");
    assert_eq!(redis_cli(port, &["SCAN", "0"], None), "0\n\n");
    let count: usize = redis_cli(port, &["COMMAND", "COUNT"], None)
        .trim()
        .parse()
        .unwrap();
    assert!(count >= 14, "COMMAND COUNT {count}");
    assert_eq!(
        redis_cli(port, &["FOO", "bar", "baz"], None),
        "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \n\n"
    );

    // One connection fed on stdin: an error does not end the session. (redis-cli
    // prints an empty line after each error; these bytes match real Redis 7.0.)
    let session = redis_cli(port, &[], Some("foo\nset x 1\nget\nget x\nping\n"));
    assert_eq!(
        session,
        "ERR unknown command 'foo', with args beginning with: \n\nOK\n\
         ERR wrong number of arguments for 'get' command\n\n1\nPONG\n"
    );

    for i in 0..50 {
        redis_cli(port, &["SET", &format!("user:{i:02}"), "v"], None);
    }
    redis_cli(port, &["SET", "other", "v"], None);
    let scanned = redis_cli(port, &["--scan", "--pattern", "user:*"], None);
    let keys: Vec<&str> = scanned.lines().collect();
    let expected: Vec<String> = (0..50).map(|i| format!("user:{i:02}")).collect();
    assert_eq!(keys, expected, "--scan returns every match once, sorted");
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_scan_lists_a_split_table_in_order_and_admin_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    let port = dev.addr.port();
    assert_eq!(
        redis_cli(
            port,
            &["CREATETABLE", "stocks", "REPLICAS", "3", "SPLITS", "H", "P"],
            None
        ),
        "OK\n"
    );
    assert_eq!(redis_cli(port, &["SET", "stocks:A", "120"], None), "OK\n");
    assert_eq!(redis_cli(port, &["SET", "stocks:Z", "1"], None), "OK\n");
    assert_eq!(redis_cli(port, &["GET", "stocks:A"], None), "120\n");
    let info = redis_cli(port, &["TABLE", "INFO", "stocks"], None);
    assert!(
        info.starts_with("id\n1\nname\nstocks\nreplicas\n3\nkeys\n2\n"),
        "{info}"
    );
    assert_eq!(redis_cli(port, &["TABLES"], None), "default\nstocks\n");

    let mut input = String::new();
    let mut keys: Vec<String> = (0..20_000)
        .map(|i| format!("stocks:{}{i:05}", (b'A' + (i % 26) as u8) as char))
        .collect();
    for key in &keys {
        input.push_str(&format!("SET {key} v\n"));
    }
    let piped = redis_cli(port, &["--pipe"], Some(&input));
    assert!(piped.contains("errors: 0, replies: 20000"), "{piped}");
    keys.extend(["stocks:A".to_string(), "stocks:Z".to_string()]);
    keys.sort();
    let scanned = redis_cli(port, &["--scan", "--pattern", "stocks:*"], None);
    assert_eq!(
        scanned.lines().collect::<Vec<_>>(),
        keys,
        "--scan: every key once, sorted"
    );

    assert_eq!(redis_cli(port, &["DROPTABLE", "stocks"], None), "OK\n");
    assert_eq!(redis_cli(port, &["GET", "stocks:A"], None), "\n");
    assert_eq!(redis_cli(port, &["TABLES"], None), "default\n");
}

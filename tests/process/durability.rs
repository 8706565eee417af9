//! Durability of acknowledged writes across SIGKILL and clean SIGTERM restarts of
//! `tessera dev`.

use crate::harness::process::DevProcess;
use crate::harness::wait_serving;
use redis::AsyncCommands;
use std::time::{Duration, Instant};

async fn write_keys(url: &str, prefix: &str, n: usize) {
    let mut con = wait_serving(url, Duration::from_secs(30)).await;
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.set(format!("{prefix}{i}"), format!("value-{i}"));
    }
    let acks: Vec<String> = pipe.query_async(&mut con).await.unwrap();
    assert!(acks.iter().all(|a| a == "OK"), "every write acknowledged");
}

async fn assert_keys(url: &str, prefix: &str, n: usize) {
    let mut con = wait_serving(url, Duration::from_secs(30)).await;
    for i in 0..n {
        let value: Option<String> = con.get(format!("{prefix}{i}")).await.unwrap();
        assert_eq!(
            value.as_deref(),
            Some(format!("value-{i}").as_str()),
            "key {prefix}{i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = DevProcess::start(&data);
    write_keys(&first.url(), "k", 1000).await;
    first.kill();

    let second = DevProcess::start(&data);
    assert_keys(&second.url(), "k", 1000).await;
    let mut con = wait_serving(&second.url(), Duration::from_secs(30)).await;
    assert_eq!(
        redis::cmd("DBSIZE")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        1000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly_and_restart_serves_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = Instant::now();
    let first = DevProcess::start(&data);
    let mut con = wait_serving(&first.url(), Duration::from_secs(10)).await;
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    eprintln!("answered PING {:?} after start", started.elapsed());
    write_keys(&first.url(), "t", 200).await;
    // One HTTP address serves the metrics of every part of `tessera dev`.
    let http = first
        .http
        .clone()
        .expect("tessera dev serves HTTP by default");
    let metrics = crate::harness::http_get(&http, "/metrics").await.unwrap();
    for series in [
        "tessera_router_commands_total{command=\"set\"}",
        "tessera_node_proposals_total",
        "tessera_meta_controller_actions_total",
    ] {
        assert!(metrics.contains(series), "no {series} at {http}");
    }
    // Transparent huge pages are off for the process (src/main.rs says why).
    let status = std::fs::read_to_string(format!("/proc/{}/status", first.pid())).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["THP_enabled:", "0"])),
        "transparent huge pages are on: {status}"
    );
    let status = first.terminate();
    assert!(status.success(), "clean shutdown exits 0, got {status:?}");

    let second = DevProcess::start(&data);
    assert_keys(&second.url(), "t", 200).await;
    assert!(second.terminate().success());
}

/// SIGTERM while clients write: the process exits 0, and every write it acknowledged
/// is there after a restart. Shutdown drops the requests in flight (their clients see
/// the connection close) instead of waiting for storage nodes that are stopping too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_writes_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = DevProcess::start(&data);
    let url = first.url();
    wait_serving(&url, Duration::from_secs(30)).await;
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (url, acked) = (url.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            let mut con = crate::harness::connect(&url).await;
            let mut mine = Vec::new();
            'writes: for i in 0..20_000 {
                let key = format!("w{w}:{i}");
                // A slow moment may answer an error (TRYAGAIN, a timeout): send the
                // same write again. Only a closed connection ends the writer.
                for _ in 0..100 {
                    match con.set::<_, _, String>(&key, i).await {
                        Ok(_) => {
                            mine.push(key);
                            acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            continue 'writes;
                        }
                        Err(e) if e.is_connection_dropped() || e.is_io_error() => break 'writes,
                        Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
                break;
            }
            mine
        }));
    }
    crate::harness::wait_for(Duration::from_secs(60), "writes under way", || {
        let n = acked.load(std::sync::atomic::Ordering::Relaxed);
        std::future::ready((n >= 500).then_some(()))
    })
    .await;
    let status = tokio::task::spawn_blocking(move || first.terminate())
        .await
        .unwrap();
    assert!(status.success(), "clean shutdown exits 0, got {status:?}");
    let mut written = Vec::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    eprintln!(
        "{} writes acknowledged before the process stopped",
        written.len()
    );
    assert!(
        written.len() >= 500 && written.len() < 80_000,
        "stopped mid-load"
    );

    let second = DevProcess::start(&data);
    let mut con = wait_serving(&second.url(), Duration::from_secs(30)).await;
    for chunk in written.chunks(500) {
        let values: Vec<Option<String>> = con.mget(chunk).await.unwrap();
        for (key, value) in chunk.iter().zip(values) {
            let i = key.rsplit(':').next().unwrap();
            assert_eq!(value.as_deref(), Some(i), "acknowledged write {key} lost");
        }
    }
    assert!(second.terminate().success());
}

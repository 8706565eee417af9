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
    let status = first.terminate();
    assert!(status.success(), "clean shutdown exits 0, got {status:?}");

    let second = DevProcess::start(&data);
    assert_keys(&second.url(), "t", 200).await;
    assert!(second.terminate().success());
}

//! A cluster of separate processes — three meta members, three storage nodes and a
//! router — where processes are killed with SIGKILL.

use crate::cluster::{single_meta, Cluster, Shape};
use crate::harness::process::free_port;
use crate::harness::{connect, test_dir, wait_for, wait_serving};
use crate::load::{assert_all_readable, wait_keys, Load};
use redis::AsyncCommands;
use std::time::{Duration, Instant};

/// The node the router last saw leading the default table's range.
pub(crate) async fn default_leader(con: &mut redis::aio::MultiplexedConnection) -> Option<u64> {
    let ranges: redis::Value = redis::cmd("RANGES")
        .arg("default")
        .query_async(con)
        .await
        .ok()?;
    let text = format!("{ranges:?}");
    // The reply is small; find the "leader" field's integer.
    let after = text.split("\"leader\"").nth(1)?;
    let digits: String = after
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_survive_sigkill_of_the_leader_and_of_everything() {
    let dir = test_dir();
    let mut cluster = Cluster::start(dir.path(), Shape::default());
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let mut acked = Vec::new();
    for i in 0..200 {
        let key = format!("before:{i}");
        let _: () = con.set(&key, i).await.unwrap();
        acked.push(key);
    }
    let leader = wait_for(Duration::from_secs(10), "a known leader", || {
        let mut con = con.clone();
        async move { default_leader(&mut con).await }
    })
    .await;
    // A steady load from several clients across the kill.
    let load = Load::start(&cluster.url(), 4, "load");
    wait_keys(&con, 400).await;
    cluster.kill_node(leader);
    let killed = Instant::now();
    let mut con = connect(&cluster.url()).await;
    loop {
        match con.set::<_, _, ()>("after-kill", "1").await {
            Ok(()) => break,
            Err(e) => assert!(
                killed.elapsed() < Duration::from_secs(2),
                "no write within 2 s of SIGKILL: {e}"
            ),
        }
    }
    eprintln!(
        "writes resumed {:?} after SIGKILL of node {leader}",
        killed.elapsed()
    );
    acked.push("after-kill".to_string());
    wait_keys(&con, 1_000).await;
    let (loaded, failed) = load.finish().await;
    eprintln!(
        "load across the kill: {} writes acknowledged, {failed} indeterminate",
        loaded.len()
    );
    assert_all_readable(&mut con, &loaded).await;
    // Every node also serves Redis clients: read through a surviving node.
    let survivor = cluster
        .nodes
        .iter()
        .find(|(id, _)| *id != leader)
        .unwrap()
        .0;
    let resp = cluster.node_resp(survivor).unwrap();
    let mut via_node = connect(&format!("redis://{resp}")).await;
    assert_eq!(via_node.get::<_, i64>("before:7").await.unwrap(), 7);
    assert_eq!(via_node.get::<_, String>("after-kill").await.unwrap(), "1");
    for i in 0..100 {
        let key = format!("after:{i}");
        let _: () = con.set(&key, i).await.unwrap();
        acked.push(key);
    }

    cluster.kill_all_and_restart();
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    assert_all_readable(&mut con, &loaded).await;
    for key in &acked {
        let exists: bool = con.exists(key).await.unwrap();
        assert!(
            exists,
            "acknowledged {key} lost after SIGKILL of every process"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_ports_refuse_connections_without_the_cluster_secret() {
    use std::io::{Read, Write};
    let dir = test_dir();
    let port = free_port();
    let data = dir.path().join("meta");
    let meta = single_meta(
        &format!("127.0.0.1:{port}"),
        &data,
        &dir.path().join("meta.log"),
    );
    // A well-formed request frame, but no hello: refused before anything is read.
    let request = [&[0, 0, 0, 3][..], &[1, 2, 0]].concat();
    let wrong_hello = [&[0, 0, 0, 15][..], b"TESSERA1", &[6], b"wrong!"].concat();
    for attempt in [request, wrong_hello] {
        let mut stream = std::net::TcpStream::connect(meta.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&attempt).unwrap();
        let mut buf = [0u8; 64];
        let read = stream.read(&mut buf).unwrap_or(0);
        assert_eq!(read, 0, "the server closes without answering");
    }
    let log = wait_for(
        Duration::from_secs(10),
        "the refusals to be logged",
        || async {
            let log = std::fs::read_to_string(dir.path().join("meta.log")).ok()?;
            (log.matches("refused internal connection").count() >= 2).then_some(log)
        },
    )
    .await;
    assert!(log.contains("missing or wrong cluster secret"));
}

/// Regression, found by the split-brain test: a router that found the new leader by
/// trying members (no `NotLeader` hint, e.g. the old leader's node is gone) did not
/// remember it, so `RANGES` showed no leader and every request probed members again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_router_forgot_a_leader_found_without_a_hint() {
    let dir = test_dir();
    let mut cluster = Cluster::start(dir.path(), Shape::default());
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let _: () = con.set("k", "1").await.unwrap();
    let old = wait_for(Duration::from_secs(10), "a known leader", || {
        let mut con = con.clone();
        async move { default_leader(&mut con).await }
    })
    .await;
    cluster.kill_node(old);
    // A write: the router forgets the dead node and tries members until one serves.
    // (The first attempt may be TRYAGAIN: the request went out on the connection to
    // the dead node, so its outcome is unknown to the router.)
    wait_for(Duration::from_secs(10), "a write after the kill", || {
        let mut con = con.clone();
        async move { con.set::<_, _, ()>("k", "2").await.ok() }
    })
    .await;
    let now = default_leader(&mut con).await;
    assert!(
        now.is_some_and(|l| l != old),
        "after a write served by the new leader, RANGES shows leader {now:?} (old {old})"
    );
}

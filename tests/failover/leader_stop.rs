//! Leader failover: stopping the leader's node elects a new leader that serves writes
//! quickly, and nothing acknowledged before is lost.

use crate::harness::TestCluster;
use redis::AsyncCommands;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_resume_within_two_seconds_after_the_leader_stops() {
    let mut cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    for i in 0..200 {
        let _: () = con.set(format!("before:{i}"), i).await.unwrap();
    }
    let group = cluster.default_group().await;
    let old_leader = cluster.leader(group).await;

    cluster.cluster.stop_node(old_leader).await.unwrap();
    let stopped = Instant::now();
    loop {
        let attempt: redis::RedisResult<()> = con.set("after", "1").await;
        match attempt {
            Ok(()) => break,
            Err(e) => {
                assert!(
                    stopped.elapsed() < Duration::from_secs(2),
                    "no write within 2 s: {e}"
                );
            }
        }
    }
    let took = stopped.elapsed();
    eprintln!("first write after stopping leader {old_leader} succeeded after {took:?}");
    assert!(took < Duration::from_secs(2), "write took {took:?}");

    let new_leader = cluster.leader(group).await;
    assert_ne!(new_leader, old_leader);
    for i in 0..200 {
        let value: Option<i64> = con.get(format!("before:{i}")).await.unwrap();
        assert_eq!(
            value,
            Some(i),
            "acknowledged write before:{i} survived failover"
        );
    }
    assert_eq!(
        con.get::<_, Option<String>>("after").await.unwrap(),
        Some("1".into())
    );
    cluster.cluster.shutdown().await.unwrap();
}

/// A leader stopped cleanly answers the writes it started before it goes, and tells
/// the router what it did not run, so the router sends that elsewhere: no client sees
/// "outcome unknown", and every acknowledged increment counts exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_of_the_leader_leaves_no_write_unknown() {
    let mut cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let _: () = con.set("counter", 0).await.unwrap();
    let group = cluster.default_group().await;
    let old_leader = cluster.leader(group).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let mut con = cluster.client().await;
        let done = done.clone();
        writers.spawn(async move {
            // Bounded: 150 increments each.
            for _ in 0..150 {
                let _: i64 = con.incr("counter", 1).await.expect("an increment failed");
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    crate::harness::wait_for(Duration::from_secs(30), "increments under way", || {
        let done = done.clone();
        async move { (done.load(std::sync::atomic::Ordering::SeqCst) >= 100).then_some(()) }
    })
    .await;
    cluster.cluster.stop_node(old_leader).await.unwrap();
    while let Some(writer) = writers.join_next().await {
        writer.unwrap();
    }
    assert_ne!(cluster.leader(group).await, old_leader);
    assert_eq!(con.get::<_, i64>("counter").await.unwrap(), 600);
    cluster.cluster.start_node(old_leader).await.unwrap();
    cluster.cluster.shutdown().await.unwrap();
}

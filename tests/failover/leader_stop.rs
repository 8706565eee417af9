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

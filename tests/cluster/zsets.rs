//! Sorted sets over Raft: a follower that missed a sorted set's writes gets its member
//! and score-index rows through a snapshot; the rows of a deleted sorted set go on every
//! replica; a renamed or copied one keeps its order; and `BZPOPMIN`/`BZMPOP` clients
//! are served in the order they blocked, woken by a `ZADD` inside MULTI.

use crate::harness::{wait_for, TestCluster};
use redis::AsyncCommands;
use std::time::Duration;

/// How long replicas may take to agree.
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sorted_set_reaches_a_lagging_follower_and_keeps_its_order_everywhere() {
    let (mut cluster, group, follower) = TestCluster::start_with_follower_down().await;
    let mut con = cluster.client().await;
    for i in 0..200i64 {
        // Scores descend as members ascend: score order is not member order.
        let added: i64 = con.zadd("z", format!("m{i:03}"), 1000 - i).await.unwrap();
        assert_eq!(added, 1);
        let _: i64 = con.zadd("gone", format!("m{i:03}"), i).await.unwrap();
    }
    // Rescoring moves a member's index row: the old one must go on every replica.
    let _: f64 = con.zincr("z", "m000", -5000).await.unwrap();
    cluster.cluster.start_node(follower).await.unwrap();
    let digests = cluster.identical_replicas(group, WAIT).await;
    // Two rows a member: its score and its index entry.
    assert_eq!(digests[0].1.members, 800, "{digests:?}");

    let first: Vec<(String, f64)> = con.zrange_withscores("z", 0, 1).await.unwrap();
    assert_eq!(
        first,
        vec![("m000".to_string(), -4000.0), ("m199".to_string(), 801.0)]
    );
    let top: Vec<String> = con.zrevrange("z", 0, 0).await.unwrap();
    assert_eq!(top, vec!["m001"]);
    assert_eq!(con.zrank::<_, _, i64>("z", "m150").await.unwrap(), 50);

    // DEL answers at once; the 400 rows of `gone` go later, through Raft.
    assert_eq!(con.del::<_, i64>("gone").await.unwrap(), 1);
    wait_for(
        Duration::from_secs(30),
        "the collector to delete the orphaned rows",
        || async {
            let digests = cluster.digests(group).await;
            let done = digests.len() == 3 && digests.iter().all(|(_, d)| d.members == 400);
            done.then_some(())
        },
    )
    .await;
    // A copy and a rename keep the order (their index rows move with them).
    let _: bool = redis::cmd("COPY")
        .arg("z")
        .arg("z2")
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = con.rename("z2", "z3").await.unwrap();
    let copied: Vec<String> = con.zrange("z3", 0, 2).await.unwrap();
    assert_eq!(copied, vec!["m000", "m199", "m198"]);
    let by_score: Vec<String> = con.zrangebyscore("z3", 990, "+inf").await.unwrap();
    assert_eq!(by_score.len(), 10);
    // The renamed copy's old rows are orphans too: z and z3 remain.
    wait_for(WAIT, "the collector to delete z2's rows", || async {
        let digests = cluster.digests(group).await;
        let done = digests.len() == 3 && digests.iter().all(|(_, d)| d.members == 800);
        done.then_some(())
    })
    .await;
    cluster.identical_replicas(group, WAIT).await;
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bzpopmin_clients_are_served_in_order_and_woken_by_zadd_in_multi() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let none: Option<(String, String, f64)> = con.bzpopmin("q", 0.2).await.unwrap();
    assert_eq!(none, None);
    let none: redis::Value = redis::cmd("BZMPOP")
        .arg(0.2)
        .arg(1)
        .arg("q")
        .arg("MIN")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(none, redis::Value::Nil);

    let mut waiters = Vec::new();
    for i in 0..3 {
        let mut own = cluster.client().await;
        waiters.push(tokio::spawn(async move {
            let got: (String, String, f64) = own.bzpopmin("q", 0.0).await.unwrap();
            (i, got.1, got.2)
        }));
        wait_for(Duration::from_secs(30), "clients to block", || {
            let mut con = con.clone();
            async move {
                let info: String = redis::cmd("INFO")
                    .arg("clients")
                    .query_async(&mut con)
                    .await
                    .unwrap();
                let blocked = info
                    .lines()
                    .find_map(|l| l.strip_prefix("blocked_clients:"))
                    .and_then(|n| n.trim().parse::<usize>().ok());
                (blocked == Some(i + 1)).then_some(())
            }
        })
        .await;
    }
    let _: () = redis::pipe()
        .atomic()
        .zadd("q", "c", 3)
        .zadd_multiple("q", &[(1, "a"), (2, "b"), (4, "d")])
        .query_async(&mut con)
        .await
        .unwrap();
    let mut served = Vec::new();
    for w in waiters {
        served.push(w.await.unwrap());
    }
    assert_eq!(
        served,
        vec![
            (0, "a".to_string(), 1.0),
            (1, "b".to_string(), 2.0),
            (2, "c".to_string(), 3.0)
        ]
    );
    assert_eq!(con.zcard::<_, i64>("q").await.unwrap(), 1);
    cluster.cluster.shutdown().await.unwrap();
}

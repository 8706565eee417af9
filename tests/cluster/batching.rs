//! The router coalesces requests for the same group into one RPC and one Raft entry.
//! These tests check what batching must not change: every increment applied exactly
//! once and in order, an op's error staying with that op, and no acknowledged write
//! lost when a batch is caught by a leader change.

use crate::harness::{wait_for, TestCluster};
use crate::tables::admin;
use redis::AsyncCommands;
use std::collections::BTreeSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_are_each_applied_once_in_order() {
    let cluster = TestCluster::start().await;
    let clients = (0..20).map(|_| {
        let cluster = &cluster;
        async move {
            let mut con = cluster.client().await;
            let mut pipe = redis::pipe();
            for _ in 0..100 {
                pipe.incr("counter", 1);
            }
            let seen: Vec<i64> = pipe.query_async(&mut con).await.unwrap();
            seen
        }
    });
    let results = futures::future::join_all(clients).await;
    let mut all = BTreeSet::new();
    for seen in &results {
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "one client's increments keep their order"
        );
        all.extend(seen.iter().copied());
    }
    assert_eq!(
        all,
        (1..=2000).collect::<BTreeSet<i64>>(),
        "each increment applied once"
    );
    let mut con = cluster.client().await;
    assert_eq!(con.get::<_, i64>("counter").await.unwrap(), 2000);
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_inside_a_batch_stays_with_its_op() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let _: () = con.set("text", "not a number").await.unwrap();
    let clients = (0..10).map(|c| {
        let cluster = &cluster;
        async move {
            let mut con = cluster.client().await;
            let mut pipe = redis::pipe();
            for i in 0..50 {
                if i % 10 == 0 {
                    pipe.cmd("INCR").arg("text");
                } else {
                    pipe.cmd("SET").arg(format!("k{c}:{i}")).arg(i);
                }
            }
            let replies: Vec<redis::RedisResult<redis::Value>> =
                pipe.ignore_errors().query_async(&mut con).await.unwrap();
            replies
        }
    });
    for replies in futures::future::join_all(clients).await {
        for (i, reply) in replies.iter().enumerate() {
            match reply {
                Err(e) => {
                    assert_eq!(i % 10, 0, "only INCR fails");
                    assert!(e.to_string().contains("not an integer"), "{e}");
                }
                Ok(value) => {
                    assert_ne!(i % 10, 0);
                    assert_eq!(*value, redis::Value::Okay);
                }
            }
        }
    }
    assert_eq!(
        redis::cmd("DBSIZE")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        451
    );
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_caught_by_a_leader_change_lose_no_acknowledged_write() {
    let mut cluster = TestCluster::start().await;
    let group = cluster.default_group().await;
    let leader = cluster.leader(group).await;
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let url = cluster.url();
            tokio::spawn(async move {
                let mut con = crate::harness::connect(&url).await;
                let mut acked = Vec::new();
                for i in 0..300 {
                    let key = format!("w{w}:{i:03}");
                    match con.set::<_, _, ()>(&key, i).await {
                        Ok(()) => acked.push(key),
                        Err(e) => assert!(
                            matches!(e.code(), Some("TRYAGAIN") | Some("CLUSTERDOWN")),
                            "unexpected error for {key}: {e}"
                        ),
                    }
                }
                acked
            })
        })
        .collect();
    let mut con = cluster.client().await;
    wait_for(Duration::from_secs(30), "writes under way", || {
        let mut con = con.clone();
        async move {
            let n: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.ok()?;
            (n >= 300).then_some(())
        }
    })
    .await;
    cluster.cluster.stop_node(leader).await.unwrap();
    let mut acked = Vec::new();
    for writer in writers {
        acked.extend(writer.await.unwrap());
    }
    assert!(
        acked.len() > 300,
        "writes went on after the leader change ({} acknowledged)",
        acked.len()
    );
    for key in &acked {
        assert!(
            con.exists::<_, bool>(key).await.unwrap(),
            "acknowledged {key} lost"
        );
    }
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_across_ranges_keeps_each_reply_in_its_place() {
    // Single-key commands pipelined one after another travel together, one request
    // per range: every reply must still be the one of its own command, errors
    // included, and a command between them (or a conflicting one) must keep its place.
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let created = admin(&mut con, &["CREATETABLE", "t", "SPLITS", "h", "p"])
        .await
        .unwrap();
    assert_eq!(created, redis::Value::Okay);
    let _: () = con.rpush("t:list", "x").await.unwrap();
    let long_key = format!("t:{}", "k".repeat(70_000));
    let keys: Vec<String> = ["a", "i", "q", "z", "b", "j"]
        .iter()
        .map(|k| format!("t:{k}"))
        .collect();
    let mut pipe = redis::pipe();
    let mut expected: Vec<Result<redis::Value, &str>> = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        pipe.cmd("SET").arg(key).arg(i);
        expected.push(Ok(redis::Value::Okay));
    }
    pipe.cmd("SET").arg(&long_key).arg(1);
    expected.push(Err("key is too large"));
    pipe.cmd("INCR").arg("t:list");
    expected.push(Err("WRONGTYPE"));
    pipe.cmd("PING");
    expected.push(Ok(redis::Value::SimpleString("PONG".into())));
    for (i, key) in keys.iter().enumerate() {
        pipe.cmd("GET").arg(key);
        expected.push(Ok(redis::Value::BulkString(i.to_string().into_bytes())));
    }
    pipe.cmd("GET").arg("t:list");
    expected.push(Err("WRONGTYPE"));
    pipe.cmd("NOSUCHCOMMAND");
    expected.push(Err("unknown command"));
    // Writes after reads of the same keys, then reads again: each sees the one before.
    for key in &keys {
        pipe.cmd("APPEND").arg(key).arg("+");
        expected.push(Ok(redis::Value::Int(2)));
    }
    for (i, key) in keys.iter().enumerate() {
        pipe.cmd("GET").arg(key);
        expected.push(Ok(redis::Value::BulkString(format!("{i}+").into_bytes())));
    }
    pipe.cmd("GET").arg("no-such-key");
    expected.push(Ok(redis::Value::Nil));
    let replies: Vec<redis::RedisResult<redis::Value>> =
        pipe.ignore_errors().query_async(&mut con).await.unwrap();
    assert_eq!(replies.len(), expected.len());
    for (at, (reply, expected)) in replies.iter().zip(&expected).enumerate() {
        match (reply, expected) {
            (Ok(value), Ok(want)) => assert_eq!(value, want, "reply {at}"),
            (Err(e), Err(text)) => assert!(e.to_string().contains(text), "reply {at}: {e}"),
            (got, want) => panic!("reply {at}: {got:?}, expected {want:?}"),
        }
    }
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_writes_across_a_split_are_each_applied_once() {
    // A run of pipelined INCRs whose range splits under it is sent again op by op to
    // the new ranges: every increment lands once, and each client's replies count up.
    let cluster = TestCluster::start().await;
    let clients = (0..4).map(|c| {
        let cluster = &cluster;
        async move {
            let mut con = cluster.client().await;
            let mut last = vec![0i64; 26];
            for _ in 0..20 {
                let mut pipe = redis::pipe();
                for letter in b'a'..=b'z' {
                    pipe.incr(format!("{}{c}", letter as char), 1);
                }
                let seen: Vec<i64> = pipe.query_async(&mut con).await.unwrap();
                for (at, value) in seen.into_iter().enumerate() {
                    assert_eq!(value, last[at] + 1, "client {c}, key {at}");
                    last[at] = value;
                }
            }
        }
    });
    let splitting = async {
        let mut con = cluster.client().await;
        for at in ["m", "f", "t"] {
            let ok = admin(&mut con, &["SPLIT", "default", at]).await.unwrap();
            assert_eq!(ok, redis::Value::Okay);
        }
    };
    futures::future::join(futures::future::join_all(clients), splitting).await;
    let mut con = cluster.client().await;
    for c in 0..4 {
        for letter in b'a'..=b'z' {
            let value: i64 = con.get(format!("{}{c}", letter as char)).await.unwrap();
            assert_eq!(value, 20);
        }
    }
    cluster.cluster.shutdown().await.unwrap();
}

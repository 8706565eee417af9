//! The request path end to end with redis-rs.

use crate::harness::TestCluster;
use redis::AsyncCommands;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_get_del_exists_dbsize_through_the_router() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;

    let _: () = con.set("alpha", "1").await.unwrap();
    let _: () = con.set("beta", b"\x00binary\xff".as_slice()).await.unwrap();
    assert_eq!(
        con.get::<_, Option<String>>("alpha").await.unwrap(),
        Some("1".into())
    );
    assert_eq!(
        con.get::<_, Vec<u8>>("beta").await.unwrap(),
        b"\x00binary\xff"
    );
    assert_eq!(con.get::<_, Option<String>>("missing").await.unwrap(), None);
    assert_eq!(
        con.exists::<_, i64>(&["alpha", "beta", "missing", "alpha"])
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        redis::cmd("DBSIZE")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        2
    );
    assert_eq!(con.del::<_, i64>(&["alpha", "missing"]).await.unwrap(), 1);
    assert_eq!(con.get::<_, Option<String>>("alpha").await.unwrap(), None);
    assert_eq!(
        redis::cmd("DBSIZE")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        1
    );

    let err = redis::cmd("GET")
        .query_async::<()>(&mut con)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("wrong number of arguments for 'get' command"),
        "{err}"
    );
    // The connection is still usable after an error.
    assert_eq!(
        con.get::<_, Vec<u8>>("beta").await.unwrap(),
        b"\x00binary\xff"
    );
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_returns_every_key_once_in_byte_order() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let mut expected = BTreeSet::new();
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        let key = format!("key:{:05}", (i * 7919) % 2000);
        pipe.set(&key, i).ignore();
        expected.insert(key);
    }
    let _: () = pipe.query_async(&mut con).await.unwrap();

    let mut seen = Vec::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(100)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(keys.len() <= 100, "COUNT bounds a page");
        seen.extend(keys);
        calls += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert!(
        calls >= 20,
        "2000 keys in pages of 100 take at least 20 calls, got {calls}"
    );
    let expected: Vec<String> = expected.into_iter().collect();
    assert_eq!(seen, expected, "every key exactly once, in byte order");

    let (_, matched): (u64, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("MATCH")
        .arg("key:0001*")
        .arg("COUNT")
        .arg(5000)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(matched.len(), 10);
    cluster.cluster.shutdown().await.unwrap();
}

/// With `--lease-reads`, a leader serves reads under its lease; after the leader's
/// node stops, reads on the new leader still see every acknowledged write, including
/// one acknowledged by the new leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_reads_see_every_acknowledged_write_across_a_leader_change() {
    let timings = tessera_common::raftnet::RaftTimings {
        lease_reads: true,
        ..Default::default()
    };
    let mut cluster = TestCluster::start_with(timings).await;
    let group = cluster.default_group().await;
    let mut con = cluster.client().await;
    for i in 0..50 {
        let _: () = con.set("k", i).await.unwrap();
        let got: i64 = con.get("k").await.unwrap();
        assert_eq!(got, i);
    }
    let leader = cluster.leader(group).await;
    cluster.cluster.stop_node(leader).await.unwrap();
    let _: () = con.set("k", 50).await.unwrap();
    let got: i64 = con.get("k").await.unwrap();
    assert_eq!(got, 50);
    cluster.cluster.shutdown().await.unwrap();
}

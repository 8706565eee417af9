//! Hashes over Raft: a follower that missed a hash's writes gets its rows through a
//! snapshot, and the rows of a deleted or overwritten hash are deleted on every
//! replica by the collector (a `DEL` only drops the key's metadata row).

use crate::harness::{wait_for, TestCluster};
use redis::AsyncCommands;
use std::time::Duration;

/// How long replicas may take to agree.
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_reaches_a_lagging_follower_and_deleted_rows_go_everywhere() {
    // Little log behind each snapshot: the follower gets the hash from a snapshot.
    let (mut cluster, group, follower) = TestCluster::start_with_follower_down().await;

    let mut con = cluster.client().await;
    for i in 0..300 {
        let added: i64 = con.hset("h", format!("f{i:03}"), i).await.unwrap();
        assert_eq!(added, 1);
        let _: i64 = con.hset("gone", format!("f{i:03}"), i).await.unwrap();
    }
    let _: () = con.set("s", "v").await.unwrap();
    cluster.cluster.start_node(follower).await.unwrap();
    let digests = cluster.identical_replicas(group, WAIT).await;
    assert_eq!(digests[0].1.keys, 3, "{digests:?}");
    assert_eq!(digests[0].1.members, 600, "{digests:?}");

    // DEL answers at once; the 300 rows go later, through Raft, on every replica.
    assert_eq!(con.del::<_, i64>("gone").await.unwrap(), 1);
    // SET over a hash writes without reading it: its rows are orphans too.
    let _: i64 = con.hset("over", "a", "1").await.unwrap();
    let _: () = con.set("over", "string now").await.unwrap();
    wait_for(
        Duration::from_secs(30),
        "the collector to delete the orphaned rows",
        || async {
            let digests = cluster.digests(group).await;
            let done = digests.len() == 3 && digests.iter().all(|(_, d)| d.members == 300);
            done.then_some(())
        },
    )
    .await;
    let digests = cluster.identical_replicas(group, WAIT).await;
    assert_eq!(digests[0].1.keys, 3, "h, s and over: {digests:?}");
    assert_eq!(con.hlen::<_, i64>("h").await.unwrap(), 300);
    assert_eq!(con.hget::<_, _, i64>("h", "f123").await.unwrap(), 123);
    assert_eq!(con.hlen::<_, i64>("gone").await.unwrap(), 0);
    assert_eq!(con.get::<_, String>("over").await.unwrap(), "string now");
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_in_a_transaction_and_a_recreated_key_sees_no_old_fields() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    // One Raft entry: the first hash is deleted and a new one made under the same key;
    // the new one must not see the old one's fields.
    let (a, _, del, b, all): (i64, i64, i64, i64, Vec<String>) = redis::pipe()
        .atomic()
        .hset("t", "old", "1")
        .hset("t", "both", "1")
        .del("t")
        .hset("t", "both", "2")
        .hgetall("t")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((a, del, b), (1, 1, 1));
    assert_eq!(all, vec!["both".to_string(), "2".to_string()]);
    let err = con.get::<_, String>("t").await.unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    let kind: String = redis::cmd("TYPE")
        .arg("t")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(kind, "hash");
    cluster.cluster.shutdown().await.unwrap();
}

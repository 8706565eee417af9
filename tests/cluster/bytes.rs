//! A range's byte count under blind writes: a plain `SET` does not read the key it
//! replaces, so it counts the key as new; the leader recounts the range from a
//! snapshot once such writes add up, and the count comes back to the truth (the size
//! rule of elastic ranges must not split a range that only looks large).

use crate::harness::{wait_for, TestCluster};
use crate::tables::ranges;
use redis::AsyncCommands;
use std::time::Duration;

/// The byte count `RANGES` shows for the default table's one range.
async fn counted(con: &mut redis::aio::MultiplexedConnection) -> u64 {
    let ranges = ranges(con, "default").await;
    redis::from_redis_value(ranges[0]["bytes"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwriting_one_key_does_not_grow_the_range_count() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let value = "v".repeat(8_000);
    // 1.6 MB written blind over one 8 KB key (the writes of one apply batch count
    // once, so without a recount the range would count a few hundred KB). A recount
    // comes once 64 KiB were written blind, so the count stays under 100 KB.
    for _ in 0..200 {
        let _: () = con.set("k", &value).await.unwrap();
    }
    wait_for(
        Duration::from_secs(20),
        "the range's count to come back under 100 KB",
        || {
            let mut con = con.clone();
            async move {
                let bytes = counted(&mut con).await;
                (bytes > 8_000 && bytes < 100_000).then_some(())
            }
        },
    )
    .await;
    assert_eq!(con.get::<_, String>("k").await.unwrap(), value);
    cluster.cluster.shutdown().await.unwrap();
}

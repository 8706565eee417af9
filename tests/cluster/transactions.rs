//! MULTI/EXEC and WATCH with real concurrent clients.

use crate::harness::TestCluster;
use redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_aborts_exec_when_another_client_writes() {
    let cluster = TestCluster::start().await;
    let mut alice = cluster.client().await;
    let mut bob = cluster.client().await;
    let _: () = alice.set("balance", 100).await.unwrap();

    let _: () = redis::cmd("WATCH")
        .arg("balance")
        .query_async(&mut alice)
        .await
        .unwrap();
    let _: () = bob.set("balance", 50).await.unwrap();
    let _: () = redis::cmd("MULTI").query_async(&mut alice).await.unwrap();
    let _: () = redis::cmd("DECRBY")
        .arg("balance")
        .arg(10)
        .query_async(&mut alice)
        .await
        .unwrap();
    let result: Option<Vec<i64>> = redis::cmd("EXEC").query_async(&mut alice).await.unwrap();
    assert_eq!(result, None, "EXEC aborts: a watched key changed");
    assert_eq!(alice.get::<_, i64>("balance").await.unwrap(), 50);

    // Without interference the same transaction commits atomically.
    let _: () = redis::cmd("WATCH")
        .arg("balance")
        .query_async(&mut alice)
        .await
        .unwrap();
    let (balance,): (i64,) = redis::pipe()
        .atomic()
        .decr("balance", 10)
        .query_async(&mut alice)
        .await
        .unwrap();
    assert_eq!(balance, 40);
    cluster.cluster.shutdown().await.unwrap();
}

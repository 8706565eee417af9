//! Blocking pops through the router: clients blocked on one list are served in the
//! order they blocked, a push inside MULTI wakes them after EXEC, timeouts answer nil,
//! a client that leaves gives up its place, and a blocked client is served across a
//! leader change of its range.

use crate::harness::{wait_for, TestCluster};
use redis::AsyncCommands;
use std::time::Duration;

/// Clients blocked on the router, from `INFO clients`.
async fn blocked(con: &mut redis::aio::MultiplexedConnection) -> usize {
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query_async(con)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_blocked(con: &redis::aio::MultiplexedConnection, n: usize) {
    wait_for(Duration::from_secs(30), "clients to block", || {
        let mut con = con.clone();
        async move { (blocked(&mut con).await == n).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_clients_are_served_in_order_and_woken_by_a_push_in_multi() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    // A timeout answers nil, after about the timeout.
    let none: Option<(String, String)> = con.blpop("q", 0.2).await.unwrap();
    assert_eq!(none, None);

    // Five clients block one after the other (each on its own connection).
    let mut waiters = Vec::new();
    for i in 0..5 {
        // The harness's connections wait 30 s for a reply; redis-rs's default (0.5 s)
        // would give up on a client that waits its turn while the others block.
        let mut own = cluster.client().await;
        waiters.push(tokio::spawn(async move {
            let got: (String, String) = own.brpop("q", 0.0).await.unwrap();
            (i, got.1)
        }));
        wait_blocked(&con, i + 1).await;
    }
    // One transaction pushes five elements: the first blocked gets the first popped.
    let _: () = redis::pipe()
        .atomic()
        .rpush("q", "e0")
        .rpush("q", &["e1", "e2", "e3", "e4"])
        .query_async(&mut con)
        .await
        .unwrap();
    let mut served = Vec::new();
    for w in waiters {
        served.push(w.await.unwrap());
    }
    // BRPOP pops from the tail: the first in line gets e4, the last e0.
    let expected: Vec<(usize, String)> = (0..5).map(|i| (i, format!("e{}", 4 - i))).collect();
    assert_eq!(served, expected);
    assert_eq!(con.llen::<_, i64>("q").await.unwrap(), 0);
    assert_eq!(blocked(&mut con).await, 0);

    // BLMOVE waits, then moves the element.
    let mut own = cluster.client().await;
    let mover = tokio::spawn(async move {
        own.blmove::<_, _, Option<String>>(
            "src",
            "dst",
            redis::Direction::Left,
            redis::Direction::Right,
            0.0,
        )
        .await
        .unwrap()
    });
    wait_blocked(&con, 1).await;
    let _: () = con.lpush("src", "x").await.unwrap();
    assert_eq!(mover.await.unwrap(), Some("x".into()));
    assert_eq!(
        con.lrange::<_, Vec<String>>("dst", 0, -1).await.unwrap(),
        vec!["x"]
    );
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_gives_up_its_place_and_loses_nothing() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let mut gone = cluster.client().await;
    let leaver = tokio::spawn(async move {
        let _: Option<(String, String)> = gone.blpop("q", 0.0).await.unwrap();
    });
    wait_blocked(&con, 1).await;
    // Dropping the task closes its connection: the router notices and unblocks it.
    leaver.abort();
    let _ = leaver.await;
    wait_blocked(&con, 0).await;
    let _: () = con.rpush("q", "kept").await.unwrap();
    assert_eq!(
        con.lrange::<_, Vec<String>>("q", 0, -1).await.unwrap(),
        vec!["kept"]
    );
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_client_is_served_after_its_leader_changes() {
    let mut cluster = TestCluster::start().await;
    let group = cluster.default_group().await;
    let mut con = cluster.client().await;
    let _: () = con.set("warm", "up").await.unwrap();
    let mut own = cluster.client().await;
    let waiter = tokio::spawn(async move {
        let got: Option<(String, String)> = own.blpop("q", 0.0).await.unwrap();
        got
    });
    wait_blocked(&con, 1).await;
    let leader = cluster.leader(group).await;
    cluster.cluster.stop_node(leader).await.unwrap();
    wait_for(Duration::from_secs(30), "a new leader", || async {
        let now = cluster.leader(group).await;
        (now != leader).then_some(())
    })
    .await;
    let _: () = con.rpush("q", "after").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(30), waiter)
        .await
        .expect("served within 30 s")
        .unwrap();
    assert_eq!(got, Some(("q".into(), "after".into())));
    assert_eq!(con.llen::<_, i64>("q").await.unwrap(), 0);
    cluster.cluster.start_node(leader).await.unwrap();
    cluster.cluster.shutdown().await.unwrap();
}

//! The meta controller, not the router that asked, takes a table through its life: a
//! router that dies after asking for CREATETABLE or DROPTABLE leaves nothing stuck —
//! no table half-created, no fence left on `default`'s keys.

use crate::harness::{wait_for, TestCluster};
use redis::AsyncCommands;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;
use tessera_proto::catalog::TableState;

/// Sends a command to `addr` on a raw connection without waiting for the reply.
fn send_and_forget(addr: SocketAddr, args: &[&str]) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).unwrap();
    stream
}

/// The state of table `name` in the meta service's catalog.
async fn table_state(cluster: &TestCluster, name: &str) -> Option<TableState> {
    let meta = tessera_proto::MetaClient::new([cluster.cluster.meta_addr().to_string()]);
    let catalog = meta.full_catalog().await.ok()?;
    catalog.table_by_name(name).map(|t| t.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_killed_after_asking_for_a_table_leaves_nothing_stuck() {
    let mut cluster = TestCluster::start().await;
    let mut con = cluster.client().await;

    // CREATETABLE through a second router, which dies as soon as the meta service
    // has recorded the request: the controller fences `orders:` and creates it alone.
    let doomed = cluster.cluster.add_router().await.unwrap();
    let _asking = send_and_forget(doomed, &["CREATETABLE", "orders", "SPLITS", "m"]);
    wait_for(Duration::from_secs(10), "the request recorded", || async {
        table_state(&cluster, "orders").await
    })
    .await;
    cluster.cluster.stop_router(doomed).await.unwrap();
    wait_for(Duration::from_secs(30), "the table to serve", || async {
        (table_state(&cluster, "orders").await == Some(TableState::Active)).then_some(())
    })
    .await;
    let _: () = con.set("orders:k", "v").await.unwrap();
    assert_eq!(
        con.get::<_, Option<String>>("orders:k").await.unwrap(),
        Some("v".into())
    );
    let tables: Vec<String> = redis::cmd("TABLES").query_async(&mut con).await.unwrap();
    assert_eq!(tables, vec!["default".to_string(), "orders".to_string()]);

    // DROPTABLE through a third router, which dies at once: the controller still lifts
    // the fence, so `orders:*` keys belong to `default` again and take writes.
    let doomed = cluster.cluster.add_router().await.unwrap();
    let _asking = send_and_forget(doomed, &["DROPTABLE", "orders"]);
    wait_for(Duration::from_secs(10), "the drop recorded", || async {
        let state = table_state(&cluster, "orders").await;
        (state != Some(TableState::Active)).then_some(())
    })
    .await;
    cluster.cluster.stop_router(doomed).await.unwrap();
    wait_for(Duration::from_secs(30), "the table forgotten", || async {
        table_state(&cluster, "orders")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    let _: () = con.set("orders:k", "in default").await.unwrap();
    // The write is acknowledged once a majority has it; the third replica may apply it
    // a moment later.
    let group = cluster.default_group().await;
    let digests = cluster
        .identical_replicas(group, Duration::from_secs(30))
        .await;
    assert!(digests.iter().all(|(_, d)| d.keys == 1), "{digests:?}");
    cluster.cluster.shutdown().await.unwrap();
}

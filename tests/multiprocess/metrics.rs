//! Prometheus `/metrics` on every process of a multi-process cluster (router, nodes,
//! meta), scraped before and after a burst of writes: the named series exist and move;
//! the router's retries move when a range's leader is killed under writes.

use crate::cluster::{Cluster, Shape};
use crate::harness::{http_get, test_dir, wait_for, wait_serving};
use redis::AsyncCommands;
use std::time::Duration;

/// The sum of the samples of `series` (a metric name, optionally with the start of its
/// labels: `name{command="set"`).
fn total(text: &str, series: &str) -> Option<f64> {
    let samples: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with([' ', '{', ',', '}']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

/// The metrics of every process at `addrs`, one after the other.
async fn scrape_all(addrs: &[String]) -> String {
    let mut all = String::new();
    for addr in addrs {
        let text = wait_for(
            Duration::from_secs(30),
            "a /metrics answer",
            || async move {
                http_get(addr, "/metrics")
                    .await
                    .map_err(|e| eprintln!("scrape failed: {e}"))
                    .ok()
            },
        )
        .await;
        all.push_str(&text);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_serves_metrics_that_move_under_load() {
    let dir = test_dir();
    let mut cluster = Cluster::start(
        dir.path(),
        Shape {
            meta: 1,
            ..Shape::default()
        },
    );
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let router = vec![cluster.router.note("http on ").expect("router http")];
    let nodes: Vec<String> = cluster
        .nodes
        .iter()
        .filter_map(|(_, s)| s.as_ref()?.note("http on "))
        .collect();
    let meta: Vec<String> = cluster
        .meta
        .iter()
        .filter_map(|(_, s)| s.as_ref()?.note("http on "))
        .collect();
    assert_eq!((nodes.len(), meta.len()), (3, 1));

    let (router_before, nodes_before) = (scrape_all(&router).await, scrape_all(&nodes).await);
    for i in 0..200 {
        let _: () = con.set(format!("m{i}"), i).await.unwrap();
        assert_eq!(con.get::<_, i64>(format!("m{i}")).await.unwrap(), i);
    }
    // Read again: the leader's point-read cache now holds these keys.
    for i in 0..200 {
        let _: i64 = con.get(format!("m{i}")).await.unwrap();
    }
    let _: redis::RedisResult<i64> = con.hget("m1", "f").await; // WRONGTYPE
    let (router_after, nodes_after) = (scrape_all(&router).await, scrape_all(&nodes).await);

    let moved = |before: &str, after: &str, series: &str, by: f64| {
        let (b, a) = (total(before, series).unwrap_or(0.0), total(after, series));
        let a = a.unwrap_or_else(|| panic!("no {series} in\n{after}"));
        assert!(a - b >= by, "{series}: {b} -> {a}, expected +{by}");
    };
    for (series, by) in [
        ("tessera_router_commands_total{command=\"set\"", 200.0),
        ("tessera_router_commands_total{command=\"get\"", 200.0),
        (
            "tessera_router_command_duration_seconds_count{command=\"set\"",
            200.0,
        ),
        (
            "tessera_router_command_duration_seconds_bucket{command=\"get\"",
            1.0,
        ),
        ("tessera_router_errors_total{kind=\"WRONGTYPE\"", 1.0),
    ] {
        moved(&router_before, &router_after, series, by);
    }
    assert!(total(&router_after, "tessera_router_connections").unwrap() >= 1.0);
    assert!(total(&router_after, "process_cpu_seconds_total").unwrap() > 0.0);
    for (series, by) in [
        ("tessera_node_proposals_total", 200.0),
        ("tessera_node_commit_seconds_count", 200.0),
        ("tessera_node_proposal_ops_count", 1.0),
        ("tessera_raft_log_append_seconds_count", 200.0),
        ("tessera_raft_log_fsync_seconds_count", 1.0),
        ("tessera_raft_log_appended_bytes_total", 1.0),
        ("tessera_node_apply_seconds_count", 200.0),
        ("tessera_node_applied_entries_total", 200.0),
    ] {
        moved(&nodes_before, &nodes_after, series, by);
    }
    // The gauges the heartbeat sets (each second): every node holds a replica, one
    // leads, the range reports its size, the leader's read cache was hit.
    wait_for(Duration::from_secs(30), "node gauges", || {
        let nodes = nodes.clone();
        async move {
            let text = scrape_all(&nodes).await;
            let ok = total(&text, "tessera_node_replicas")? >= 3.0
                && total(&text, "tessera_node_leaders")? >= 1.0
                && total(&text, "tessera_node_sleeping_groups").is_some()
                && total(&text, "tessera_range_bytes")? > 0.0
                && total(&text, "tessera_range_requests_per_second").is_some()
                && total(&text, "tessera_node_read_cache_hits_total")? >= 100.0
                && total(&text, "tessera_node_read_cache_misses_total")? >= 100.0
                && total(&text, "tessera_node_read_cache_entries")? >= 100.0
                && total(&text, "tessera_node_read_cache_bytes")? > 0.0;
            ok.then_some(())
        }
    })
    .await;
    // The meta leader's view: three active nodes, every range fully replicated.
    wait_for(Duration::from_secs(60), "meta gauges", || {
        let meta = meta.clone();
        async move {
            let text = scrape_all(&meta).await;
            let ok = total(&text, "tessera_meta_nodes{state=\"active\"")? == 3.0
                && total(&text, "tessera_meta_nodes{state=\"dead\"")? == 0.0
                && total(&text, "tessera_meta_ranges")? >= 1.0
                && total(&text, "tessera_meta_under_replicated_ranges")? == 0.0
                && total(&text, "tessera_meta_unavailable_ranges")? == 0.0
                && total(&text, "tessera_meta_controller_actions_total")? >= 1.0;
            ok.then_some(())
        }
    })
    .await;

    // The default range's leader dies under writes: the router routes them again
    // (to a node that no longer answers, then to the new leader) and counts why.
    let (group, _) = cluster.default_group().await;
    let leader = wait_for(
        Duration::from_secs(30),
        "the default range's leader",
        || cluster.leader_of(group),
    )
    .await;
    cluster.kill_node(leader);
    // (A write that was on its way to the dead node may answer TRYAGAIN: its outcome
    // is unknown to the router.)
    for i in 0..20 {
        wait_for(Duration::from_secs(30), "a write after the kill", || {
            let mut con = con.clone();
            async move { con.set::<_, _, ()>(format!("after{i}"), i).await.ok() }
        })
        .await;
    }
    let router_end = scrape_all(&router).await;
    moved(
        &router_after,
        &router_end,
        "tessera_router_retries_total",
        1.0,
    );
}

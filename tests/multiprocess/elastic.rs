//! `tessera playground --nodes 5 --split-qps 1000`: a one-range table under
//! `redis-benchmark` write load on its keys splits on its own, its halves end up led by
//! different nodes, and once the load spreads every node serves some of it: each holds
//! a replica of a loaded range, and no node leads two loaded ranges while another leads
//! none. (How fast, and the throughput gained, is measured by `bench/elastic` in a
//! release build, not asserted here.)

use crate::harness::{test_dir, wait_for, wait_serving};
use crate::playground::start_playground;
use redis::Value;
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `(leader, qps, replicas)` of each range of `table`, as `RANGES` lists them.
async fn loads(
    con: &mut redis::aio::MultiplexedConnection,
    table: &str,
) -> Vec<(i64, i64, Vec<i64>)> {
    let Ok(Value::Array(ranges)) = redis::cmd("RANGES").arg(table).query_async(con).await else {
        return Vec::new();
    };
    ranges
        .into_iter()
        .filter_map(|r| {
            let fields: Vec<Value> = match r {
                Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                Value::Array(flat) => flat,
                _ => return None,
            };
            let field = |name: &str| {
                let at = fields
                    .iter()
                    .position(|f| *f == Value::BulkString(name.into()))?;
                Some(fields[at + 1].clone())
            };
            let int = |name: &str| field(name).and_then(|v| redis::from_redis_value(v).ok());
            let replicas = field("replicas").and_then(|v| redis::from_redis_value(v).ok());
            Some((
                int("leader").unwrap_or(0),
                int("qps").unwrap_or(0),
                replicas?,
            ))
        })
        .collect()
}

/// Kills the child on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_table_splits_by_load_and_spreads_over_five_nodes() {
    let dir = test_dir();
    let flags = ["--meta", "1", "--split-qps", "1000"];
    let (mut playground, listing) = start_playground(dir.path(), &flags).await;
    let router = listing["router"]["addr"].as_str().unwrap().to_string();
    let url = format!("redis://{router}");
    let mut con = wait_serving(&url, Duration::from_secs(60)).await;
    let _: () = redis::cmd("CREATETABLE")
        .arg("hot")
        .query_async(&mut con)
        .await
        .unwrap();
    let (host, port) = router.rsplit_once(':').unwrap();
    // Bounded: 20 million requests at most; killed when the test is done.
    let _load = Killed(
        Command::new("redis-benchmark")
            .args([
                "-h", host, "-p", port, "-c", "50", "-P", "8", "-r", "1000000",
            ])
            .args(["-n", "20000000", "-q", "SET", "hot:__rand_int__", "value"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-benchmark (redis-tools)"),
    );
    let start = Instant::now();
    let mut crossed = None;
    let split = loop {
        let loads = loads(&mut con, "hot").await;
        if crossed.is_none() && loads.iter().any(|(_, q, _)| *q > 1000) {
            crossed = Some(start.elapsed());
        }
        if loads.len() >= 2 {
            break start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no load split");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("over 1000 requests/s after {crossed:?}, split after {split:?}");
    wait_for(
        Duration::from_secs(60),
        "the halves led by two nodes",
        || {
            let mut con = con.clone();
            async move {
                let leaders: BTreeSet<i64> = loads(&mut con, "hot")
                    .await
                    .into_iter()
                    .map(|(l, _, _)| l)
                    .filter(|l| *l > 0)
                    .collect();
                (leaders.len() >= 2).then_some(())
            }
        },
    )
    .await;
    let serving = wait_for(
        Duration::from_secs(240),
        "every node serving some load",
        || {
            let mut con = con.clone();
            async move {
                let loads = loads(&mut con, "hot").await;
                let loaded: Vec<_> = loads.iter().filter(|(l, q, _)| *l > 0 && *q > 0).collect();
                let leaders: BTreeSet<i64> = loaded.iter().map(|(l, _, _)| *l).collect();
                let hosts: BTreeSet<i64> = loaded.iter().flat_map(|(_, _, r)| r.clone()).collect();
                let spread = leaders.len() == loaded.len().min(5);
                (spread && hosts.len() == 5).then_some(loads)
            }
        },
    )
    .await;
    eprintln!(
        "spread over 5 nodes after {:?}: {} ranges",
        start.elapsed(),
        serving.len()
    );
    // SAFETY: signalling the playground this test started.
    unsafe { libc::kill(playground.id() as i32, libc::SIGTERM) };
    let status = playground.wait().unwrap();
    assert!(status.success(), "playground exit: {status}");
}

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
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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

/// `redis-benchmark` SET load on `table`, restarted whenever it exits (it exits on the
/// first error reply, e.g. a request that timed out while a starved machine moved a
/// leader), until dropped. Bounded: 200 runs of 2 million requests at most.
struct Load {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(router: &str, table: &str) -> Self {
        let (host, port) = router.rsplit_once(':').unwrap();
        let (host, port, key) = (
            host.to_string(),
            port.to_string(),
            format!("{table}:__rand_int__"),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            for run in 0..200 {
                let mut child = Command::new("redis-benchmark")
                    .args([
                        "-h", &host, "-p", &port, "-c", "50", "-P", "8", "-r", "1000000",
                    ])
                    .args(["-n", "2000000", "-q", "SET", &key, "value"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("redis-benchmark (redis-tools)");
                while !stopped.load(Ordering::Relaxed) {
                    if child.try_wait().unwrap().is_some() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let output = child.wait_with_output().unwrap();
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let err = String::from_utf8_lossy(&output.stderr);
                eprintln!("load run {run} ended ({}): {}", output.status, err.trim());
            }
        });
        Load {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
    let load = Load::start(&router, "hot");
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
    let last_print = Arc::new(Mutex::new(Instant::now()));
    let serving = wait_for(
        Duration::from_secs(240),
        "every node serving some load",
        || {
            let mut con = con.clone();
            let seen = last_print.clone();
            async move {
                let loads = loads(&mut con, "hot").await;
                let mut seen = seen.lock().unwrap();
                if seen.elapsed() > Duration::from_secs(10) {
                    eprintln!("{:?}: (leader, qps, replicas) {loads:?}", start.elapsed());
                    *seen = Instant::now();
                }
                drop(seen);
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
    drop(load);
    // SAFETY: signalling the playground this test started.
    unsafe { libc::kill(playground.id() as i32, libc::SIGTERM) };
    let status = playground.wait().unwrap();
    assert!(status.success(), "playground exit: {status}");
}

//! `tessera playground`: real child processes listed in `playground.json` (each with
//! the HTTP address of its metrics), surviving the loss of any two of five nodes for
//! `REPLICAS 5` tables, all stopped on SIGTERM.

use crate::harness::{connect, test_dir, wait_for, wait_serving};
use redis::AsyncCommands;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

fn pid_of(entry: &serde_json::Value) -> u32 {
    entry["pid"].as_u64().expect("pid") as u32
}

/// Starts `tessera playground --nodes 5` (plus `flags`) with its data and log under
/// `dir`; the child and its `playground.json` listing once written.
pub(crate) async fn start_playground(dir: &Path, flags: &[&str]) -> (Child, serde_json::Value) {
    let data = dir.join("pg");
    let log = std::fs::File::create(dir.join("playground.log")).unwrap();
    let playground = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["playground", "--nodes", "5", "--port", "0"])
        .args(flags)
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let listing = wait_for(Duration::from_secs(60), "playground.json", || async {
        let text = std::fs::read_to_string(data.join("playground.json")).ok()?;
        serde_json::from_str(&text).ok()
    })
    .await;
    (playground, listing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_node_playground_survives_losing_two_nodes() {
    let dir = test_dir();
    let (mut playground, listing) = start_playground(dir.path(), &["--meta", "3"]).await;
    let router = listing["router"]["addr"].as_str().unwrap().to_string();
    let metas = listing["meta"].as_array().unwrap();
    let nodes = listing["nodes"].as_array().unwrap();
    assert_eq!((metas.len(), nodes.len()), (3, 5), "{listing}");
    for entry in metas.iter().chain(nodes) {
        assert!(
            entry["id"].as_u64().is_some() && entry["addr"].is_string(),
            "{entry}"
        );
        assert!(alive(pid_of(entry)));
    }
    let mut pids: Vec<u32> = metas.iter().chain(nodes).map(pid_of).collect();
    pids.push(pid_of(&listing["router"]));
    let url = format!("redis://{router}");
    let mut con = wait_serving(&url, Duration::from_secs(60)).await;
    let _: () = redis::cmd("CREATETABLE")
        .arg("five")
        .arg("REPLICAS")
        .arg(5)
        .query_async(&mut con)
        .await
        .unwrap();
    let mut acked = Vec::new();
    for i in 0..100 {
        for key in [format!("five:{i}"), format!("plain:{i}")] {
            let _: () = con.set(&key, i).await.unwrap();
            acked.push((key, i));
        }
    }
    // Every process serves its metrics at the address the listing gives.
    for (entry, series) in metas
        .iter()
        // (Only the meta leader reports the cluster's gauges.)
        .map(|m| (m, "process_cpu_seconds_total"))
        .chain(nodes.iter().map(|n| (n, "tessera_node_")))
        .chain([(&listing["router"], "tessera_router_")])
    {
        let http = entry["http"].as_str().unwrap_or_else(|| panic!("{entry}"));
        let metrics = wait_for(Duration::from_secs(30), "a /metrics answer", || async {
            crate::harness::http_get(http, "/metrics")
                .await
                .ok()
                .filter(|text| text.contains(series))
        })
        .await;
        assert!(metrics.contains("process_cpu_seconds_total"), "{http}");
    }

    // Any two nodes: the first and the last.
    for node in [&nodes[0], &nodes[4]] {
        let pid = pid_of(node);
        // SAFETY: signalling a process the playground started for this test.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        wait_for(Duration::from_secs(10), "the node to die", || async {
            (!alive(pid)).then_some(())
        })
        .await;
    }
    let mut con = connect(&url).await;
    for i in 100..200 {
        for key in [format!("five:{i}"), format!("plain:{i}")] {
            let _: () = con.set(&key, i).await.unwrap();
            acked.push((key, i));
        }
    }
    for (key, want) in &acked {
        let got: Option<i64> = con.get(key).await.unwrap();
        assert_eq!(got, Some(*want), "{key} after losing two of five nodes");
    }

    // SIGTERM stops every child.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(playground.id() as i32, libc::SIGTERM) };
    let status = playground.wait().unwrap();
    assert!(status.success(), "playground exit: {status}");
    wait_for(Duration::from_secs(10), "every child to exit", || async {
        pids.iter().all(|p| !alive(*p)).then_some(())
    })
    .await;
}

//! A cluster of separate processes — three meta members, three storage nodes and a
//! router — where processes are killed with SIGKILL.

use crate::harness::process::{free_port, Service};
use crate::harness::{connect, wait_for, wait_serving};
use redis::AsyncCommands;
use std::path::Path;
use std::time::{Duration, Instant};

/// The cluster secret every process of the test cluster is started with.
const SECRET: &str = "a-shared-secret";

struct Cluster {
    meta: Vec<Service>,
    nodes: Vec<(u64, Service)>,
    router: Service,
    meta_args: Vec<Vec<String>>,
    node_args: Vec<Vec<String>>,
    router_args: Vec<String>,
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

impl Cluster {
    fn start(dir: &Path) -> Self {
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let members: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
            .collect();
        let meta_list: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let meta_args: Vec<Vec<String>> = (1..=3)
            .map(|id| {
                let data = dir.join(format!("meta{id}"));
                args(&[
                    "meta",
                    "--cluster-secret",
                    SECRET,
                    "--id",
                    &id.to_string(),
                    "--members",
                    &members.join(","),
                    "--data-dir",
                    data.to_str().unwrap(),
                ])
            })
            .collect();
        let node_args: Vec<Vec<String>> = (1..=3)
            .map(|id| {
                let data = dir.join(format!("node{id}"));
                args(&[
                    "node",
                    "--cluster-secret",
                    SECRET,
                    "--resp",
                    "127.0.0.1:0",
                    "--id",
                    &id.to_string(),
                    "--meta",
                    &meta_list.join(","),
                    "--data-dir",
                    data.to_str().unwrap(),
                ])
            })
            .collect();
        let router_args = args(&[
            "router",
            "--cluster-secret",
            SECRET,
            "--port",
            "0",
            "--meta",
            &meta_list.join(","),
        ]);
        let log = dir.join("cluster.log");
        Self {
            meta: meta_args.iter().map(|a| Service::start(a, &log)).collect(),
            nodes: node_args
                .iter()
                .enumerate()
                .map(|(i, a)| (i as u64 + 1, Service::start(a, &log)))
                .collect(),
            router: Service::start(&router_args, &log),
            meta_args,
            node_args,
            router_args,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.router.addr)
    }

    /// SIGKILL every process, then start them all again on the same data.
    fn kill_all_and_restart(&mut self, dir: &Path) {
        self.router.kill();
        for (_, node) in &mut self.nodes {
            node.kill();
        }
        for meta in &mut self.meta {
            meta.kill();
        }
        let log = dir.join("cluster.log");
        self.meta = self
            .meta_args
            .iter()
            .map(|a| Service::start(a, &log))
            .collect();
        self.nodes = self
            .node_args
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u64 + 1, Service::start(a, &log)))
            .collect();
        self.router = Service::start(&self.router_args, &log);
    }
}

/// The node the router last saw leading the default table's range.
async fn default_leader(con: &mut redis::aio::MultiplexedConnection) -> Option<u64> {
    let ranges: redis::Value = redis::cmd("RANGES")
        .arg("default")
        .query_async(con)
        .await
        .ok()?;
    let text = format!("{ranges:?}");
    // The reply is small; find the "leader" field's integer.
    let after = text.split("\"leader\"").nth(1)?;
    let digits: String = after
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separate_processes_survive_sigkill_of_the_leader_and_of_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start(dir.path());
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let mut acked = Vec::new();
    for i in 0..200 {
        let key = format!("before:{i}");
        let _: () = con.set(&key, i).await.unwrap();
        acked.push(key);
    }
    let leader = wait_for(Duration::from_secs(10), "a known leader", || {
        let mut con = con.clone();
        async move { default_leader(&mut con).await }
    })
    .await;
    cluster
        .nodes
        .iter_mut()
        .find(|(id, _)| *id == leader)
        .unwrap()
        .1
        .kill();
    let killed = Instant::now();
    let mut con = connect(&cluster.url()).await;
    loop {
        match con.set::<_, _, ()>("after-kill", "1").await {
            Ok(()) => break,
            Err(e) => assert!(
                killed.elapsed() < Duration::from_secs(2),
                "no write within 2 s of SIGKILL: {e}"
            ),
        }
    }
    eprintln!(
        "writes resumed {:?} after SIGKILL of node {leader}",
        killed.elapsed()
    );
    acked.push("after-kill".to_string());
    // Every node also serves Redis clients: read through a surviving node.
    let survivor = cluster.nodes.iter().find(|(id, _)| *id != leader).unwrap();
    let resp = survivor
        .1
        .banner
        .split("RESP on ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    let mut via_node = connect(&format!("redis://{resp}")).await;
    assert_eq!(via_node.get::<_, i64>("before:7").await.unwrap(), 7);
    assert_eq!(via_node.get::<_, String>("after-kill").await.unwrap(), "1");
    for i in 0..100 {
        let key = format!("after:{i}");
        let _: () = con.set(&key, i).await.unwrap();
        acked.push(key);
    }

    cluster.kill_all_and_restart(dir.path());
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    for key in &acked {
        let exists: bool = con.exists(key).await.unwrap();
        assert!(
            exists,
            "acknowledged {key} lost after SIGKILL of every process"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_ports_refuse_connections_without_the_cluster_secret() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let data = dir.path().join("meta");
    let meta = Service::start(
        &args(&[
            "meta",
            "--cluster-secret",
            SECRET,
            "--id",
            "1",
            "--members",
            &format!("1=127.0.0.1:{port}"),
            "--data-dir",
            data.to_str().unwrap(),
        ]),
        &dir.path().join("meta.log"),
    );
    // A well-formed request frame, but no hello: refused before anything is read.
    let request = [&[0, 0, 0, 3][..], &[1, 2, 0]].concat();
    let wrong_hello = [&[0, 0, 0, 15][..], b"TESSERA1", &[6], b"wrong!"].concat();
    for attempt in [request, wrong_hello] {
        let mut stream = std::net::TcpStream::connect(meta.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&attempt).unwrap();
        let mut buf = [0u8; 64];
        let read = stream.read(&mut buf).unwrap_or(0);
        assert_eq!(read, 0, "the server closes without answering");
    }
    let log = wait_for(
        Duration::from_secs(10),
        "the refusals to be logged",
        || async {
            let log = std::fs::read_to_string(dir.path().join("meta.log")).ok()?;
            (log.matches("refused internal connection").count() >= 2).then_some(log)
        },
    )
    .await;
    assert!(log.contains("missing or wrong cluster secret"));
}

//! Shared test harness: an in-process cluster ([`TestCluster`]) on free ports and temp
//! dirs, Redis clients for it, and waiting on conditions with deadlines (never sleeps
//! as synchronization).

#![allow(dead_code)]

pub mod netns;
pub mod process;
pub mod proxy;

use std::future::Future;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tessera::dev::{DevCluster, DevOptions};
use tessera_common::raftnet::RaftTimings;
use tessera_proto::catalog::{GroupId, NodeId};
use tessera_proto::ReplicaDigest;
use tessera_proto::{NodeClient, NodeRequest, NodeResponse};

/// Polls `probe` every 20 ms until it yields `Some`, panicking after `limit`.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A temp dir for a test; kept (and its path printed) when `TESSERA_KEEP_TEST_DIRS`
/// is set, to read a failed test's logs and data.
pub fn test_dir() -> TempDir {
    let mut dir = TempDir::new().expect("temp dir");
    if std::env::var_os("TESSERA_KEEP_TEST_DIRS").is_some() {
        dir.disable_cleanup(true);
        eprintln!("test dir kept: {}", dir.path().display());
    }
    dir
}

/// An in-process cluster (meta + nodes + router) in a temp dir.
pub struct TestCluster {
    pub cluster: DevCluster,
    pub dir: TempDir,
}

impl TestCluster {
    /// Starts a 3-node cluster and waits until the default table serves requests.
    pub async fn start() -> Self {
        Self::start_with(RaftTimings::default()).await
    }

    /// Same, with the given Raft timings.
    pub async fn start_with(raft: RaftTimings) -> Self {
        Self::start_nodes(3, raft).await
    }

    /// A cluster of `nodes` storage nodes.
    pub async fn start_nodes(nodes: usize, raft: RaftTimings) -> Self {
        Self::start_options(DevOptions {
            nodes,
            raft,
            ..Default::default()
        })
        .await
    }

    /// A 3-node cluster whose every part reads wall time from `clock`.
    pub async fn start_with_clock(clock: std::sync::Arc<dyn tessera_common::Clock>) -> Self {
        Self::start_options(DevOptions {
            clock,
            ..Default::default()
        })
        .await
    }

    /// A cluster with `options` (its address and data directory are the test's own).
    pub async fn start_options(options: DevOptions) -> Self {
        let dir = TempDir::new().expect("temp dir");
        let options = DevOptions {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().to_path_buf(),
            ..options
        };
        let cluster = DevCluster::start(options).await.expect("start cluster");
        let this = Self { cluster, dir };
        this.wait_serving().await;
        this
    }

    /// A multiplexed redis-rs connection to the router.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        connect(&self.url()).await
    }

    /// `redis://` URL of the router.
    pub fn url(&self) -> String {
        format!("redis://{}", self.cluster.router_addr())
    }

    /// Waits until a read through the router succeeds.
    pub async fn wait_serving(&self) {
        wait_serving(&self.url(), Duration::from_secs(30)).await;
    }

    /// The catalog as the meta service has it now.
    pub async fn catalog(&self) -> std::sync::Arc<tessera_proto::catalog::Catalog> {
        let meta = tessera_proto::MetaClient::new(vec![self.cluster.meta_addr().to_string()]);
        meta.full_catalog().await.expect("catalog")
    }

    /// Node `id`'s digest of `group`, if it is running and hosts it.
    pub async fn digest(&self, id: NodeId, group: GroupId) -> Option<ReplicaDigest> {
        let addr = self.cluster.node_addr(id)?;
        let client = NodeClient::new(addr.to_string());
        match client
            .call(&NodeRequest::Digest { group }, Duration::from_secs(2))
            .await
        {
            Ok(NodeResponse::Digest(Ok(digest))) => Some(digest),
            _ => None,
        }
    }

    /// The leader of `group` that a majority of running replicas agree on.
    pub async fn leader(&self, group: GroupId) -> NodeId {
        wait_for(Duration::from_secs(10), "a group leader", || async {
            let mut votes = std::collections::HashMap::new();
            for id in self.cluster.node_ids() {
                if let Some(leader) = self.digest(id, group).await.and_then(|d| d.leader) {
                    *votes.entry(leader).or_insert(0) += 1;
                }
            }
            votes
                .into_iter()
                .find(|(_, n)| *n >= 2)
                .map(|(leader, _)| leader)
        })
        .await
    }

    /// A running node that is not `group`'s leader.
    pub async fn follower(&self, group: GroupId) -> NodeId {
        let leader = self.leader(group).await;
        self.cluster
            .node_ids()
            .into_iter()
            .find(|id| *id != leader)
            .expect("a node besides the leader")
    }
}

impl TestCluster {
    /// The group serving the default table's (first) range.
    pub async fn default_group(&self) -> GroupId {
        let meta = tessera_proto::MetaClient::new([self.cluster.meta_addr().to_string()]);
        let catalog = meta.full_catalog().await.expect("catalog");
        catalog
            .ranges
            .values()
            .find(|r| r.table == 0)
            .expect("default range")
            .group
    }

    /// What node `id` stores in the storage-key interval `[start, end)`: (keys, group
    /// records), read from its fjall database.
    pub async fn footprint(&self, id: NodeId, start: &[u8], end: &[u8]) -> Option<(u64, u64)> {
        let addr = self.cluster.node_addr(id)?;
        let client = NodeClient::new(addr.to_string());
        let req = NodeRequest::Footprint {
            start: start.to_vec(),
            end: end.to_vec(),
        };
        match client.call(&req, Duration::from_secs(10)).await {
            Ok(NodeResponse::Footprint(Ok(f))) => Some(f),
            _ => None,
        }
    }

    /// A cluster whose default group keeps little log behind each snapshot (so a
    /// follower that misses writes must be sent a snapshot), with one follower of that
    /// group stopped: the cluster, the group and the stopped node.
    pub async fn start_with_follower_down() -> (Self, GroupId, NodeId) {
        let timings = RaftTimings {
            snapshot_every: 50,
            keep_logs: 5,
            ..Default::default()
        };
        let mut cluster = TestCluster::start_with(timings).await;
        let group = cluster.default_group().await;
        let follower = cluster.follower(group).await;
        cluster.cluster.stop_node(follower).await.unwrap();
        (cluster, group, follower)
    }

    /// Waits until `group` has three replicas holding the same data (applied index,
    /// keys, member rows and digest); answers their digests.
    pub async fn identical_replicas(
        &self,
        group: GroupId,
        limit: Duration,
    ) -> Vec<(NodeId, ReplicaDigest)> {
        wait_for(limit, "three identical replicas", || async {
            let digests = self.digests(group).await;
            let first = digests.first()?.1.clone();
            let same = digests.len() == 3
                && digests.iter().all(|(_, d)| {
                    (d.applied, d.keys, d.members, d.digest)
                        == (first.applied, first.keys, first.members, first.digest)
                });
            same.then_some(digests)
        })
        .await
    }

    /// Digests of `group` on every running node that hosts it.
    pub async fn digests(&self, group: GroupId) -> Vec<(NodeId, ReplicaDigest)> {
        let mut out = Vec::new();
        for id in self.cluster.node_ids() {
            if let Some(d) = self.digest(id, group).await {
                out.push((id, d));
            }
        }
        out
    }
}

/// A redis-rs connection with a generous response timeout.
pub async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    connect_waiting(url, Duration::from_secs(30)).await
}

/// A connection whose replies may take up to `limit` (admin commands that wait for
/// the cluster to settle: MERGE moves replicas first).
pub async fn connect_waiting(url: &str, limit: Duration) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).expect("client");
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(limit));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect")
}

/// Waits until the process's router serves reads of the default table.
pub async fn wait_serving(url: &str, limit: Duration) -> redis::aio::MultiplexedConnection {
    let con = wait_for(limit, "tessera dev to serve", || async {
        let client = redis::Client::open(url).ok()?;
        client.get_multiplexed_async_connection().await.ok()
    })
    .await;
    wait_for(limit, "the default table to serve", || {
        let mut con = con.clone();
        async move {
            let r: redis::RedisResult<Option<String>> = redis::cmd("GET")
                .arg("__probe__")
                .query_async(&mut con)
                .await;
            r.ok().map(|_| ())
        }
    })
    .await;
    connect(url).await
}

/// `GET path` from an HTTP address; the body of a 200 answer, or what went wrong.
pub async fn http_get(addr: &str, path: &str) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut text = Vec::new();
    stream
        .read_to_end(&mut text)
        .await
        .map_err(|e| format!("read from {addr}: {e}"))?;
    let text = String::from_utf8_lossy(&text);
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(format!("{addr}{path} answered {text:?}")),
    }
}

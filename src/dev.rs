//! `tessera dev`: a meta member, N storage nodes (each with its own data directory and
//! internal port) and a router on one port, all in this process and over loopback TCP.
//! The same assembly is the in-process cluster of the integration tests, which also
//! stop and restart single nodes through it.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::raftnet::RaftTimings;
use tessera_common::Clock;
use tessera_meta::{ControllerConfig, MetaConfig};
use tessera_proto::catalog::NodeId;
use tessera_router::RouterConfig;
use tessera_server::NodeConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How to run the embedded cluster.
#[derive(Clone, Debug)]
pub struct DevOptions {
    /// Router address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Root of the data directories.
    pub data_dir: PathBuf,
    /// Storage nodes to run (the default table is replicated on 3 of them).
    pub nodes: usize,
    /// Raft timings of every group.
    pub raft: RaftTimings,
    /// Router settings (the meta address is filled in).
    pub router: RouterConfig,
    /// The wall clock of every part (tests move a manual one forward).
    pub clock: Arc<dyn Clock>,
    /// A range over this many bytes splits (0: never).
    pub split_bytes: u64,
    /// A range over this many requests per second for 10 s splits (0: never).
    pub split_qps: f64,
    /// How long two cold neighbours wait before they merge back.
    pub merge_after: Duration,
}

impl Default for DevOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 6379)),
            data_dir: PathBuf::from("tessera-data"),
            nodes: 3,
            raft: RaftTimings::default(),
            router: RouterConfig::default(),
            clock: tessera_common::clock::system(),
            split_bytes: tessera_meta::controller::DEFAULT_SPLIT_BYTES,
            split_qps: tessera_meta::controller::DEFAULT_SPLIT_QPS,
            merge_after: ControllerConfig::default().merge_after,
        }
    }
}

struct NodeSlot {
    id: NodeId,
    addr: Option<SocketAddr>,
    stop: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// A running embedded cluster.
pub struct DevCluster {
    options: DevOptions,
    router_addr: SocketAddr,
    meta_addr: SocketAddr,
    shutdown: CancellationToken,
    meta: JoinHandle<io::Result<()>>,
    router: JoinHandle<io::Result<()>>,
    extra_routers: Vec<(SocketAddr, CancellationToken, JoinHandle<io::Result<()>>)>,
    nodes: Vec<NodeSlot>,
}

async fn loopback() -> io::Result<TcpListener> {
    TcpListener::bind("127.0.0.1:0").await
}

impl DevCluster {
    /// Starts every part; returns once all listeners are bound (not once data is
    /// served: the default table's group forms a moment later).
    ///
    /// # Errors
    /// A port that cannot be bound, or a data directory that cannot be created.
    pub async fn start(options: DevOptions) -> io::Result<Self> {
        std::fs::create_dir_all(&options.data_dir)?;
        let shutdown = CancellationToken::new();
        let router_listener = TcpListener::bind(options.listen).await?;
        let router_addr = router_listener.local_addr()?;
        let meta_listener = loopback().await?;
        let meta_addr = meta_listener.local_addr()?;
        let meta_config = MetaConfig {
            id: 1,
            data_dir: options.data_dir.join("meta"),
            members: [(1, meta_addr.to_string())].into(),
            raft: options.raft.clone(),
            controller: ControllerConfig {
                default_replicas: options.nodes.min(3) as u8,
                split_bytes: options.split_bytes,
                split_qps: options.split_qps,
                merge_after: options.merge_after,
                ..Default::default()
            },
            initial_state: Default::default(),
        };
        let meta = tokio::spawn(tessera_meta::run(
            meta_config,
            meta_listener,
            shutdown.child_token(),
        ));
        let mut cluster = Self {
            router_addr,
            meta_addr,
            meta,
            router: tokio::spawn(async { Ok(()) }),
            extra_routers: Vec::new(),
            nodes: Vec::new(),
            shutdown,
            options,
        };
        for id in 1..=cluster.options.nodes as NodeId {
            cluster.nodes.push(NodeSlot {
                id,
                addr: None,
                stop: CancellationToken::new(),
                task: None,
            });
            cluster.start_node(id).await?;
        }
        let router_config = cluster.router_config();
        cluster.router = tokio::spawn(tessera_router::run(
            router_config,
            router_listener,
            cluster.shutdown.child_token(),
        ));
        Ok(cluster)
    }

    /// Starts another router on the same cluster (on a free loopback port) and
    /// returns its address.
    ///
    /// # Errors
    /// Binding its listener fails.
    pub async fn add_router(&mut self) -> io::Result<SocketAddr> {
        let listener = loopback().await?;
        let addr = listener.local_addr()?;
        let stop = self.shutdown.child_token();
        let router = tokio::spawn(tessera_router::run(
            self.router_config(),
            listener,
            stop.clone(),
        ));
        self.extra_routers.push((addr, stop, router));
        Ok(addr)
    }

    /// Stops the router that [`DevCluster::add_router`] started on `addr`, at once (its
    /// clients see their connections close).
    ///
    /// # Errors
    /// The router's own error.
    pub async fn stop_router(&mut self, addr: SocketAddr) -> io::Result<()> {
        let Some(i) = self.extra_routers.iter().position(|(a, _, _)| *a == addr) else {
            return Ok(());
        };
        let (_, stop, task) = self.extra_routers.remove(i);
        stop.cancel();
        task.await.map_err(io::Error::other)?
    }

    fn router_config(&self) -> RouterConfig {
        RouterConfig {
            meta_addrs: vec![self.meta_addr.to_string()],
            clock: self.options.clock.clone(),
            ..self.options.router.clone()
        }
    }

    /// Where clients connect.
    pub fn router_addr(&self) -> SocketAddr {
        self.router_addr
    }

    /// The meta member's address.
    pub fn meta_addr(&self) -> SocketAddr {
        self.meta_addr
    }

    /// The internal address of node `id`, while it runs.
    pub fn node_addr(&self, id: NodeId) -> Option<SocketAddr> {
        self.slot(id).and_then(|s| s.task.as_ref().and(s.addr))
    }

    /// The ids of the storage nodes.
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|s| s.id).collect()
    }

    fn slot(&self, id: NodeId) -> Option<&NodeSlot> {
        self.nodes.iter().find(|s| s.id == id)
    }

    /// Starts (or restarts, on its existing data) storage node `id` on a new port.
    ///
    /// # Errors
    /// Binding its listener fails.
    pub async fn start_node(&mut self, id: NodeId) -> io::Result<()> {
        let listener = loopback().await?;
        let addr = listener.local_addr()?;
        let config = NodeConfig {
            id,
            data_dir: self.options.data_dir.join(format!("node{id}")),
            meta_addrs: vec![self.meta_addr.to_string()],
            advertise_addr: addr.to_string(),
            raft: self.options.raft.clone(),
            heartbeat: Duration::from_secs(1),
            clock: self.options.clock.clone(),
        };
        let stop = self.shutdown.child_token();
        let task = tokio::spawn(tessera_server::run(config, listener, stop.clone()));
        if let Some(slot) = self.nodes.iter_mut().find(|s| s.id == id) {
            *slot = NodeSlot {
                id,
                addr: Some(addr),
                stop,
                task: Some(task),
            };
        }
        Ok(())
    }

    /// Stops storage node `id` cleanly (its data stays on disk).
    ///
    /// # Errors
    /// The node's own shutdown error.
    pub async fn stop_node(&mut self, id: NodeId) -> io::Result<()> {
        let Some(slot) = self.nodes.iter_mut().find(|s| s.id == id) else {
            return Ok(());
        };
        slot.stop.cancel();
        match slot.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Stops everything and waits until all data is persisted.
    ///
    /// # Errors
    /// The first error any part reported.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.shutdown.cancel();
        let mut result = self.router.await.map_err(io::Error::other)?;
        for (_, _, router) in self.extra_routers {
            result = result.and(router.await.map_err(io::Error::other)?);
        }
        for slot in &mut self.nodes {
            if let Some(task) = slot.task.take() {
                let r = task.await.map_err(io::Error::other)?;
                result = result.and(r);
            }
        }
        result.and(self.meta.await.map_err(io::Error::other)?)
    }
}

//! Tessera's storage node: hosts many replication groups (multi-Raft, openraft) whose
//! logs and state machines share one fjall database, and serves the internal RPC (Raft
//! messages and data requests, group id in every message) on one listener.

pub mod api;
pub mod group;
pub mod hibernate;
pub mod node;
pub mod ops;
mod reconcile;
pub mod state_machine;
pub mod transport;
pub mod value;

pub use api::{DataError, DataRequest, DataResponse, NodeRequest, NodeResponse};
pub use ops::{Op, OpResult};
pub use transport::{NodeClient, NodeDirectory};

use node::Node;
use state_machine::{DataCommand, DataKeyspaces, DataReply, GroupStateMachine};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::raftnet::RaftTimings;
use tessera_common::Store;
use tessera_meta::catalog::NodeId;
use tessera_meta::MetaClient;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

openraft::declare_raft_types!(
    /// Raft types of the data groups.
    pub DataTypes: D = DataCommand, R = DataReply
);

/// A data group replica's Raft handle.
pub type DataRaft = openraft::Raft<DataTypes, GroupStateMachine>;

/// How often a leader looks for expired keys to delete.
const EXPIRY_SWEEP_EVERY: Duration = Duration::from_millis(200);
/// How often a node steps its groups' memberships towards the catalog.
const RECONCILE_EVERY: Duration = Duration::from_millis(250);

/// How a storage node runs.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// Where its fjall database lives.
    pub data_dir: PathBuf,
    /// The meta members' addresses.
    pub meta_addrs: Vec<String>,
    /// The address other nodes and routers reach this node at.
    pub advertise_addr: String,
    /// Raft timings for its groups.
    pub raft: RaftTimings,
    /// How often it heartbeats to the meta service.
    pub heartbeat: Duration,
}

/// Runs a storage node on `listener` until `shutdown`; then stops its groups and
/// makes everything durable before returning.
///
/// # Errors
/// Storage errors at start-up, or the meta service refusing the registration.
pub async fn run(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let identity = tessera_common::identity::load_or_create(&config.data_dir, config.id)?;
    let store = Store::open(&config.data_dir)?;
    let meta = Arc::new(MetaClient::new(config.meta_addrs.clone()));
    let node = Arc::new(Node {
        id: config.id,
        data: DataKeyspaces::open(&store.db, store.syncer.clone(), store.snapshots.clone())?,
        logs: store.logs.clone(),
        groups: Default::default(),
        lifecycle: Default::default(),
        peers: Arc::new(NodeDirectory::default()),
        timings: config.raft.clone(),
        meta: meta.clone(),
    });

    let server = tokio::spawn(tessera_common::rpc::serve(
        listener,
        node.clone(),
        shutdown.clone(),
    ));
    let registered = tokio::select! {
        _ = shutdown.cancelled() => Ok(()),
        r = register(&meta, &config, identity) => r,
    };
    if let Err(e) = registered {
        // Refused (another data directory under this id, or decommissioned): serve
        // nothing rather than join groups under a borrowed identity.
        shutdown.cancel();
        let _ = server.await;
        drop(node);
        store.close().await?;
        return Err(e);
    }
    let (catalog, watcher) = meta.clone().follow_catalog(shutdown.clone());
    let follower = tokio::spawn(
        node.clone()
            .follow_catalog(catalog.clone(), shutdown.clone()),
    );
    let heartbeat = tokio::spawn(node.clone().heartbeat(config.heartbeat, shutdown.clone()));
    let reconciler = tokio::spawn(node.clone().reconcile_memberships(
        catalog.clone(),
        RECONCILE_EVERY,
        shutdown.clone(),
    ));
    let sweeper = tokio::spawn(
        node.clone()
            .sweep_expired(EXPIRY_SWEEP_EVERY, shutdown.clone()),
    );
    let hibernator = tokio::spawn(node.clone().hibernate_idle(shutdown.clone()));
    let snapshotter = tokio::spawn(
        node.clone()
            .snapshot_large_logs(Duration::from_secs(1), shutdown.clone()),
    );
    let watchman = tokio::spawn(node.clone().watch_sleeping_leaders(shutdown.clone()));
    shutdown.cancelled().await;
    for task in [
        server,
        watcher,
        follower,
        heartbeat,
        sweeper,
        reconciler,
        hibernator,
        watchman,
        snapshotter,
    ] {
        let _ = task.await;
    }
    node.stop_replicas().await;
    drop(node);
    store.close().await
}

/// Registers with the meta service, retrying until it answers (it may start later).
async fn register(meta: &MetaClient, config: &NodeConfig, identity: u64) -> io::Result<()> {
    loop {
        match meta
            .register_node(
                config.id,
                config.advertise_addr.clone(),
                identity,
                Duration::from_secs(5),
            )
            .await
        {
            Ok(()) => return Ok(()),
            Err(tessera_meta::MetaError::Refused(e)) => return Err(io::Error::other(e)),
            Err(e) => tracing::info!(error = %e, "waiting for the metadata service"),
        }
    }
}

//! Tessera's storage node: hosts many replication groups (multi-Raft, openraft) whose
//! logs and state machines share one fjall database, and serves one internal listener:
//! `proto`'s node requests (routers, the meta controller) and Raft traffic between
//! nodes ([`peer`]). Organized by concern:
//!
//! - [`node`]: the replicas this node hosts and their life cycle;
//! - [`replica`]: one replica's write, read, snapshot and membership paths;
//! - [`state_machine`], [`engine`], [`value`]: what a group applies and how it stores it;
//! - [`hibernation`]: idle groups stop their timers;
//! - `loops`: heartbeats, the catalog follower, the reconciler, the expiry sweeper,
//!   snapshots by log size, and the hibernation loops.

pub mod engine;
pub mod hibernation;
pub mod layout;
mod loops;
pub mod node;
pub mod peer;
pub mod replica;
mod service;
pub mod state_machine;
pub mod transport;
pub mod value;

use node::Node;
use state_machine::{DataCommand, DataKeyspaces, DataReply, GroupStateMachine};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::raftnet::RaftTimings;
use tessera_common::tasks::Tasks;
use tessera_common::{Clock, Store};
use tessera_proto::catalog::NodeId;
use tessera_proto::meta_client::{MetaClient, MetaError};
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
/// How often replicas' log sizes are checked.
const SNAPSHOT_CHECK_EVERY: Duration = Duration::from_secs(1);

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
    /// The wall clock (expiry, sequence numbers).
    pub clock: Arc<dyn Clock>,
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
    let (events, range_events) = tokio::sync::mpsc::unbounded_channel();
    let node = Arc::new(Node {
        id: config.id,
        data: DataKeyspaces::open(&store.db, store.syncer.clone(), store.snapshots.clone())?
            .with_read_cache(config.raft.read_cache_bytes),
        logs: store.logs.clone(),
        replicas: Default::default(),
        lifecycle: Default::default(),
        peers: Default::default(),
        timings: config.raft.clone(),
        meta: meta.clone(),
        clock: config.clock.clone(),
        events,
    });
    let mut tasks = Tasks::default();
    tasks.spawn(
        "rpc server",
        tessera_common::rpc::serve(listener, node.clone(), shutdown.clone()),
    );
    let registered = tokio::select! {
        _ = shutdown.cancelled() => Ok(()),
        r = register(&meta, &config, identity) => r,
    };
    if let Err(e) = registered {
        // Refused (another data directory under this id, or decommissioned): serve
        // nothing rather than join groups under a borrowed identity.
        shutdown.cancel();
        let _ = tasks.join("node").await; // The refusal is the error to report.
        drop(node);
        store.close().await?;
        return Err(e);
    }
    let (catalog, watcher) = meta.clone().follow_catalog(shutdown.clone());
    tasks.spawn("catalog watcher", async move {
        let _ = watcher.await;
    });
    let s = || shutdown.clone();
    tasks.spawn(
        "catalog",
        loops::catalog::run(node.clone(), catalog.clone(), s()),
    );
    tasks.spawn(
        "range events",
        loops::ranges::run(node.clone(), range_events, s()),
    );
    tasks.spawn(
        "heartbeat",
        loops::heartbeat::run(node.clone(), config.heartbeat, s()),
    );
    let reconciler = loops::reconciler::Reconciler::new(node.clone(), catalog);
    tasks.spawn("reconciler", reconciler.run(RECONCILE_EVERY, s()));
    tasks.spawn(
        "sweeper",
        loops::sweeper::run(node.clone(), EXPIRY_SWEEP_EVERY, s()),
    );
    tasks.spawn("sleeper", loops::sleeper::run(node.clone(), s()));
    tasks.spawn(
        "snapshotter",
        loops::snapshotter::run(node.clone(), SNAPSHOT_CHECK_EVERY, s()),
    );
    tasks.spawn("watchman", loops::watchman::run(node.clone(), s()));
    shutdown.cancelled().await;
    let joined = tasks.join("node").await;
    node.stop().await;
    drop(node);
    // Close the store even after a panic, then report it (the process exits non-zero).
    store.close().await.and(joined)
}

/// Registers with the meta service, retrying until it answers (it may start later).
async fn register(meta: &MetaClient, config: &NodeConfig, identity: u64) -> io::Result<()> {
    loop {
        let addr = config.advertise_addr.clone();
        match meta
            .register_node(config.id, addr, identity, Duration::from_secs(5))
            .await
        {
            Ok(()) => return Ok(()),
            Err(MetaError::Refused(e)) => return Err(io::Error::other(e)),
            Err(e) => tracing::info!(error = %e, "waiting for the metadata service"),
        }
    }
}

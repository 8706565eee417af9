//! Tessera's metadata service: an openraft group (1, 3 or 5 members) whose state machine,
//! persisted in fjall, is the catalog (its schema is in `proto`; its rules in
//! [`catalog`]). Its leader runs the [`controller`]. Routers and storage nodes reach it
//! through `proto`'s `MetaClient`; members reach each other with Raft messages only.

pub mod catalog;
pub mod controller;
mod liveness;
mod operator;
mod placement;
pub mod service;
pub mod store;

pub use catalog::MetaCommand;
pub use controller::ControllerConfig;
pub use store::{MetaReply, MetaStateMachine};

use liveness::Liveness;
use service::MetaService;
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::raftnet::{
    GroupNetwork, RaftPeers, RaftReply, RaftRequest, RaftTimings, RaftTransport,
};
use tessera_common::{FjallLogStore, PeerClient, RpcError, Store};
use tessera_proto::catalog::NodeId;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

openraft::declare_raft_types!(
    /// Raft types of the meta group.
    pub MetaTypes: D = MetaCommand, R = MetaReply
);

/// A meta member's Raft handle.
pub type MetaRaft = openraft::Raft<MetaTypes, MetaStateMachine>;

/// The meta group's id inside its own RPC messages.
const META_GROUP: u64 = 0;

/// How one meta member runs.
#[derive(Clone, Debug)]
pub struct MetaConfig {
    /// This member's id (a key of `members`).
    pub id: NodeId,
    /// Where its fjall database lives.
    pub data_dir: PathBuf,
    /// Every member's id and RPC address, this one included.
    pub members: BTreeMap<NodeId, String>,
    /// Raft timings.
    pub raft: RaftTimings,
    /// Controller settings.
    pub controller: ControllerConfig,
    /// Whether this member may start with an empty data directory (see
    /// [`InitialState`]).
    pub initial_state: InitialState,
}

/// How a meta member expects to find its data directory, as etcd's
/// `--initial-cluster-state`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InitialState {
    /// The cluster is being formed: an empty directory is a member starting for the
    /// first time (the member with the smallest id forms the group).
    #[default]
    New,
    /// The cluster exists: this member ran before, and an empty directory means its
    /// votes were lost. It refuses to start rather than vote a second time in a term.
    Existing,
}

/// Refuses to start a member declared `existing` whose directory holds no state.
///
/// # Errors
/// That refusal, or the directory cannot be read.
pub fn check_initial_state(config: &MetaConfig) -> io::Result<()> {
    let dir = &config.data_dir;
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(e),
    };
    if config.initial_state == InitialState::Existing && empty {
        return Err(io::Error::other(format!(
            "meta member {}: --initial-cluster-state existing, but {} holds no state. A member \
             that lost its data has forgotten its votes and could vote twice in one term, so it \
             does not start. Start it with the data directory it ran with; if that is lost, see \
             \"Meta members' identity\" in docs/operations.md",
            config.id,
            dir.display()
        )));
    }
    Ok(())
}

/// Raft traffic between meta members.
type MetaPeerClient = PeerClient<RaftRequest<MetaTypes>, RaftReply<MetaTypes>>;

struct MetaPeers {
    clients: BTreeMap<NodeId, MetaPeerClient>,
}

impl RaftTransport<MetaTypes> for MetaPeers {
    async fn send(
        &self,
        target: NodeId,
        _group: u64,
        req: RaftRequest<MetaTypes>,
        timeout: Duration,
    ) -> Result<RaftReply<MetaTypes>, RpcError> {
        let Some(client) = self.clients.get(&target) else {
            return Ok(RaftReply::Failed(format!("unknown meta member {target}")));
        };
        client.call(&req, timeout).await
    }
}

/// Runs a meta member on `listener` until `shutdown`, then stops Raft and flushes.
///
/// # Errors
/// Storage errors at start-up, or Raft failing to start.
pub async fn run(
    config: MetaConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> io::Result<()> {
    check_initial_state(&config)?;
    let store = Store::open(&config.data_dir)?;
    let log_store = FjallLogStore::<MetaTypes>::new(store.logs.clone(), META_GROUP);
    let state_machine =
        MetaStateMachine::open(&store.db, store.syncer.clone(), store.snapshots.clone())?;
    let log = state_machine.catalog_log();
    let peers = Arc::new(MetaPeers {
        clients: config
            .members
            .iter()
            .map(|(id, addr)| (*id, PeerClient::new(addr.clone())))
            .collect(),
    });
    let network = GroupNetwork::new(RaftPeers(peers.clone()), META_GROUP);
    let raft_config = config.raft.raft_config("tessera-meta")?;
    let raft = MetaRaft::new(config.id, raft_config, network, log_store, state_machine)
        .await
        .map_err(io::Error::other)?;
    initialize_if_first(&raft, &config).await?;

    let (orders, order_book) = operator::channel();
    let service = Arc::new(MetaService {
        raft: raft.clone(),
        catalog: log.subscribe(),
        log,
        members: Arc::new(config.members.clone()),
        liveness: Arc::new(Liveness::default()),
        dead_after: config.controller.dead_after,
        orders,
    });
    let controller = tokio::spawn(controller::run(
        service.clone(),
        config.controller.clone(),
        order_book,
        shutdown.clone(),
    ));
    tessera_common::rpc::serve(listener, service.clone(), shutdown.clone()).await;
    let _ = controller.await;
    drop(service);
    if let Err(e) = raft.shutdown().await {
        tracing::warn!(error = %e, "meta raft shutdown");
    }
    drop(raft);
    for client in peers.clients.values() {
        client.close().await;
    }
    store.close().await
}

/// The member with the smallest id forms the group the first time it starts.
async fn initialize_if_first(raft: &MetaRaft, config: &MetaConfig) -> io::Result<()> {
    let first = config.members.keys().next().copied();
    if first != Some(config.id) || raft.is_initialized().await.map_err(io::Error::other)? {
        return Ok(());
    }
    let members: BTreeMap<NodeId, openraft::BasicNode> = config
        .members
        .iter()
        .map(|(id, addr)| (*id, openraft::BasicNode::new(addr.clone())))
        .collect();
    raft.initialize(members).await.map_err(io::Error::other)
}

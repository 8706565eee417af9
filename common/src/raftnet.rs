//! Raft RPCs on the wire, for any group and any type config.
//!
//! [`RaftRequest`]/[`RaftReply`] are the messages; a service embeds them in its own RPC
//! enum together with a group id. [`RaftPeers`] implements openraft-multi's
//! [`GroupRouter`] on top of an application [`RaftTransport`], so all groups of a node
//! share one connection per peer; [`GroupNetwork`] is the per-group network factory.
//! [`dispatch`] is the receiving side: it hands a request to the local Raft instance.

use crate::rpc::RpcError;
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::{OptionalSend, Raft, RaftTypeConfig};
use openraft_multi::{GroupNetworkAdapter, GroupRouter};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

/// The snapshot payload every Tessera state machine uses.
pub type SnapshotBytes = Cursor<Vec<u8>>;

/// A Raft protocol message addressed to one group.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub enum RaftRequest<C: RaftTypeConfig> {
    /// Log replication and heartbeats.
    Append(AppendEntriesRequest<C>),
    /// A vote request.
    Vote(VoteRequest<C>),
    /// A pre-vote request (does not disturb a healthy leader).
    PreVote(VoteRequest<C>),
    /// A whole snapshot.
    Snapshot {
        /// The sender's vote.
        vote: VoteOf<C>,
        /// What the snapshot covers.
        meta: SnapshotMetaOf<C>,
        /// The state machine's serialized contents.
        #[serde(with = "crate::wire_bytes::bytes")]
        data: Vec<u8>,
    },
    /// Leadership hand-over.
    TransferLeader(TransferLeaderRequest<C>),
}

/// The answer to a [`RaftRequest`].
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub enum RaftReply<C: RaftTypeConfig> {
    /// Answer to `Append`.
    Append(AppendEntriesResponse<C>),
    /// Answer to `Vote` and `PreVote`.
    Vote(VoteResponse<C>),
    /// Answer to `Snapshot`.
    Snapshot(SnapshotResponse<C>),
    /// Answer to `TransferLeader`.
    TransferLeader(TransferLeaderResponse<C>),
    /// The receiver could not handle it (no such group here, shutting down, ...).
    Failed(String),
}

/// Hands `req` to the local Raft instance and wraps its answer.
pub async fn dispatch<C, SM>(raft: &Raft<C, SM>, req: RaftRequest<C>) -> RaftReply<C>
where
    C: RaftTypeConfig,
    SM: RaftStateMachine<C, SnapshotData = SnapshotBytes>,
{
    let failed = |e: &dyn std::fmt::Display| RaftReply::Failed(e.to_string());
    match req {
        RaftRequest::Append(rpc) => raft
            .append_entries(rpc)
            .await
            .map_or_else(|e| failed(&e), RaftReply::Append),
        RaftRequest::Vote(rpc) => raft
            .vote(rpc)
            .await
            .map_or_else(|e| failed(&e), RaftReply::Vote),
        RaftRequest::PreVote(rpc) => raft
            .pre_vote(rpc)
            .await
            .map_or_else(|e| failed(&e), RaftReply::Vote),
        RaftRequest::Snapshot { vote, meta, data } => {
            metrics::counter!("tessera_raft_snapshots_received_total").increment(1);
            let snapshot = Snapshot {
                meta,
                snapshot: Cursor::new(data),
            };
            raft.install_full_snapshot(vote, snapshot)
                .await
                .map_or_else(|e| failed(&e), RaftReply::Snapshot)
        }
        RaftRequest::TransferLeader(rpc) => raft
            .handle_transfer_leader(rpc)
            .await
            .map_or_else(|e| failed(&e), RaftReply::TransferLeader),
    }
}

/// How a service sends a Raft message for `group` to node `target` and gets the reply.
pub trait RaftTransport<C: RaftTypeConfig>: Send + Sync + 'static {
    /// Sends one message; the implementation resolves `target` to an address.
    fn send(
        &self,
        target: C::NodeId,
        group: u64,
        req: RaftRequest<C>,
        timeout: Duration,
    ) -> impl Future<Output = Result<RaftReply<C>, RpcError>> + Send;
}

/// Shares one transport (one connection per peer) among all groups of a node.
pub struct RaftPeers<T>(pub Arc<T>);

impl<T> Clone for RaftPeers<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> RaftPeers<T> {
    /// Sends `req` and extracts the expected reply kind with `pick`.
    async fn ask<C, R>(
        &self,
        (target, group): (C::NodeId, u64),
        req: RaftRequest<C>,
        option: &RPCOption,
        pick: fn(RaftReply<C>) -> Option<R>,
    ) -> Result<R, RPCError<C>>
    where
        C: RaftTypeConfig,
        T: RaftTransport<C>,
    {
        let reply = match self.0.send(target, group, req, option.hard_ttl()).await {
            Ok(RaftReply::Failed(msg)) => return Err(Unreachable::from_string(msg).into()),
            Ok(reply) => reply,
            Err(e) => return Err(Unreachable::new(&e).into()),
        };
        pick(reply).ok_or_else(|| NetworkError::from_string("unexpected reply kind").into())
    }
}

impl<C, T> GroupRouter<C, u64> for RaftPeers<T>
where
    C: RaftTypeConfig,
    T: RaftTransport<C>,
{
    type SnapshotData = SnapshotBytes;

    async fn append_entries(
        &self,
        target: C::NodeId,
        group: u64,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        let pick = |r| {
            if let RaftReply::Append(a) = r {
                Some(a)
            } else {
                None
            }
        };
        self.ask((target, group), RaftRequest::Append(rpc), &option, pick)
            .await
    }

    async fn vote(
        &self,
        target: C::NodeId,
        group: u64,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        self.ask((target, group), RaftRequest::Vote(rpc), &option, vote_reply)
            .await
    }

    async fn pre_vote(
        &self,
        target: C::NodeId,
        group: u64,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        self.ask(
            (target, group),
            RaftRequest::PreVote(rpc),
            &option,
            vote_reply,
        )
        .await
    }

    async fn full_snapshot(
        &self,
        target: C::NodeId,
        group: u64,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, SnapshotBytes>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let data = snapshot.snapshot.into_inner();
        metrics::counter!("tessera_raft_snapshots_sent_total").increment(1);
        metrics::counter!("tessera_raft_snapshot_sent_bytes_total").increment(data.len() as u64);
        let option = RPCOption::new(snapshot_ttl(data.len()).max(option.hard_ttl()));
        let req = RaftRequest::Snapshot {
            vote,
            meta: snapshot.meta,
            data,
        };
        let pick = |r| {
            if let RaftReply::Snapshot(s) = r {
                Some(s)
            } else {
                None
            }
        };
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            reply = self.ask((target, group), req, &option, pick) => reply.map_err(|e| match e {
                RPCError::Unreachable(u) => StreamingError::Unreachable(u),
                RPCError::Timeout(t) => StreamingError::Timeout(t),
                other => StreamingError::Network(NetworkError::new(&other)),
            }),
        }
    }

    async fn transfer_leader(
        &self,
        target: C::NodeId,
        group: u64,
        req: TransferLeaderRequest<C>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<C>, RPCError<C>> {
        let pick = |r| {
            if let RaftReply::TransferLeader(t) = r {
                Some(t)
            } else {
                None
            }
        };
        self.ask(
            (target, group),
            RaftRequest::TransferLeader(req),
            &option,
            pick,
        )
        .await
    }
}

fn vote_reply<C: RaftTypeConfig>(reply: RaftReply<C>) -> Option<VoteResponse<C>> {
    match reply {
        RaftReply::Vote(v) => Some(v),
        _ => None,
    }
}

/// The network factory of one group: clients to each peer share [`RaftPeers`].
pub struct GroupNetwork<T> {
    peers: RaftPeers<T>,
    group: u64,
}

impl<T> GroupNetwork<T> {
    /// The network of `group` over the shared `peers`.
    pub fn new(peers: RaftPeers<T>, group: u64) -> Self {
        Self { peers, group }
    }
}

impl<C, T> RaftNetworkFactory<C> for GroupNetwork<T>
where
    C: RaftTypeConfig,
    T: RaftTransport<C>,
{
    type Network = GroupNetworkAdapter<C, u64, RaftPeers<T>>;

    async fn new_client(&mut self, target: C::NodeId, _node: &C::Node) -> Self::Network {
        GroupNetworkAdapter::new(self.peers.clone(), target, self.group)
    }
}

/// Raft timing and log-retention settings shared by every group of a process.
#[derive(Clone, Debug)]
pub struct RaftTimings {
    /// Leader heartbeat interval.
    pub heartbeat_ms: u64,
    /// Lower bound of the randomized election timeout.
    pub election_min_ms: u64,
    /// Upper bound of the randomized election timeout.
    pub election_max_ms: u64,
    /// Build a snapshot (and allow purging the log) after this many applied entries.
    pub snapshot_every: u64,
    /// Entries kept in the log behind a snapshot, for followers that lag a little.
    pub keep_logs: u64,
    /// Also build a snapshot once this many bytes were appended to a data group's log
    /// since the last one (0: by entry count only), so large batched entries do not
    /// keep the log as big as the data until `snapshot_every` entries accumulate.
    /// Well below the log keyspace's memtable (fjall's 64 MiB): entries purged before
    /// their memtable is flushed never reach a table on disk (docs/benchmarks.md,
    /// round seven).
    pub snapshot_bytes: u64,
    /// A data group idle this long stops its Raft timers (0: never; see the server's
    /// `hibernate` module). Meta groups never sleep.
    pub hibernate_after_ms: u64,
    /// Data group leaders serve reads under their lease instead of confirming their
    /// leadership with a quorum for each batch (docs/consistency.md).
    pub lease_reads: bool,
    /// Bytes of the node's point-read cache for `GET` (0: none; docs/storage.md).
    pub read_cache_bytes: u64,
}

impl Default for RaftTimings {
    fn default() -> Self {
        // openraft's followers honour the leader's lease for `election_max_ms` after the
        // last heartbeat and only then start an election, so a dead leader is replaced
        // after between `election_max_ms` and `election_min_ms + election_max_ms`:
        // 0.6-1.2 s here (docs/operations.md). Six missed heartbeats before anyone may
        // stand keeps spurious elections rare on a loaded machine.
        Self {
            heartbeat_ms: 100,
            election_min_ms: 300,
            election_max_ms: 600,
            snapshot_every: 10_000,
            keep_logs: 1_000,
            snapshot_bytes: 16 << 20,
            hibernate_after_ms: 5_000,
            lease_reads: false,
            read_cache_bytes: 64 << 20,
        }
    }
}

/// How long sending and installing one snapshot of `bytes` may take: a whole range (up
/// to the split size, 128 MiB by default) travels as one message. With openraft's
/// 200 ms a large snapshot arrives, is installed, and is sent again because the answer
/// came late; one fixed long bound would leave a send into a dead connection hanging
/// as long. So: 10 s, plus a second per 2 MiB.
fn snapshot_ttl(bytes: usize) -> Duration {
    Duration::from_secs(10) + Duration::from_secs((bytes >> 21) as u64)
}

impl RaftTimings {
    /// The openraft configuration for a group of cluster `name` (pre-vote on).
    ///
    /// # Errors
    /// Inconsistent timings (e.g. heartbeat not below the election timeout).
    pub fn raft_config(&self, name: &str) -> std::io::Result<Arc<openraft::Config>> {
        let config = openraft::Config {
            cluster_name: name.to_string(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_min_ms,
            election_timeout_max: self.election_max_ms,
            enable_pre_vote: Some(true),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.keep_logs,
            ..Default::default()
        };
        config
            .validate()
            .map(Arc::new)
            .map_err(std::io::Error::other)
    }
}

//! What storage nodes tell each other (the peer half of the node's listener): Raft
//! messages of their groups, and the hibernation and membership questions around them.
//! Routers and the meta service use `proto`'s node requests instead.

use crate::DataTypes;
use serde::{Deserialize, Serialize};
use tessera_common::raftnet::{RaftReply, RaftRequest};
use tessera_proto::catalog::{GroupId, NodeId};
use tessera_proto::meta_api::GroupMembership;

/// A message from another storage node.
#[derive(Serialize, Deserialize)]
pub enum PeerMessage {
    /// A Raft message for one of this node's groups.
    Raft {
        /// The group.
        group: GroupId,
        /// The message.
        msg: RaftRequest<DataTypes>,
    },
    /// A group leader asks this follower to stop its Raft timers (see
    /// [`crate::hibernation`]).
    Sleep(SleepRequest),
    /// Liveness probe from a node whose sleeping replicas follow one here.
    Ping,
    /// The group's committed membership, answered only by its leader.
    Membership {
        /// The group.
        group: GroupId,
    },
}

/// The answer to a [`PeerMessage`].
#[derive(Serialize, Deserialize)]
pub enum PeerReply {
    /// Answer to `Raft`.
    Raft(RaftReply<DataTypes>),
    /// Answer to `Sleep`: whether the follower stopped its timers.
    Slept(bool),
    /// Answer to `Ping`.
    Pong,
    /// Answer to `Membership`: `None` unless this node leads the group.
    Membership(Option<GroupMembership>),
}

/// What a leader tells its followers when it asks them to sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SleepRequest {
    /// The group.
    pub group: GroupId,
    /// The leader asking.
    pub leader: NodeId,
    /// Its term.
    pub term: u64,
    /// Its last log index, which the follower must hold too.
    pub last_log: u64,
}

/// A client of another storage node's peer half.
pub type PeerClient = tessera_common::PeerClient<PeerMessage, PeerReply>;

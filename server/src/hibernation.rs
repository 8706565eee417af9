//! Hibernation of idle groups: a group with no requests for a while stops its Raft
//! timers on every replica, so a node hosting thousands of idle ranges spends no CPU on
//! them (openraft ticks every replica about fifty times a second and heartbeats every
//! follower ten times a second).
//!
//! Timers only decide *when* to heartbeat or elect; stopping them never affects safety,
//! only how fast a failure is noticed. So the protocol only has to make sure a sleeping
//! group still replaces a dead leader:
//!
//! 1. A leader idle for `hibernate_after`, whose followers all hold its whole log and
//!    whose membership is settled, asks each follower to sleep ([`crate::peer::PeerMessage::Sleep`]
//!    with its term and last log index). A follower that agrees (same leader, same term,
//!    same last log index) stops its timers. Once every follower agreed and nothing
//!    happened meanwhile, the leader stops its own.
//! 2. Anything that needs the group wakes the replica it reaches: a data request, a
//!    write, a membership step, and any Raft message other than a plain heartbeat (an
//!    entry, a vote, a snapshot, a leadership transfer). A woken leader's entries wake
//!    its followers; a vote from a woken follower wakes the others.
//! 3. Each node pings the nodes leading its sleeping replicas. When a leader's node has
//!    not answered for an election timeout, its sleeping followers here wake up, find
//!    they have not heard from it for long, and elect a new leader — the same failover
//!    as an awake group, plus the ping's detection time.
//!
//! A follower that agreed to sleep while its leader did not (a refusal elsewhere, a
//! request in between) keeps hearing heartbeats and is covered by the pings.

use crate::DataRaft;
use std::sync::{Mutex, OnceLock};
use tessera_common::raftnet::RaftRequest;
use tessera_proto::catalog::NodeId;
use tokio::time::Instant;

/// Milliseconds on tokio's monotonic clock (which tests may pause) since the process
/// first asked.
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

#[derive(Default)]
struct State {
    asleep: bool,
    /// Bumped on every wake-up call, so a leader that decided to sleep can tell
    /// whether anything happened while it asked its followers.
    epoch: u64,
    last_active_ms: u64,
    /// The leader a sleeping follower follows.
    leader: Option<NodeId>,
}

/// One replica's hibernation state.
#[derive(Default)]
pub struct Hibernation {
    state: Mutex<State>,
}

impl Hibernation {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records activity and restarts `raft`'s timers if they were stopped.
    pub fn wake(&self, raft: &DataRaft) {
        let mut state = self.lock();
        state.epoch += 1;
        state.last_active_ms = now_ms();
        if state.asleep {
            state.asleep = false;
            raft.runtime_config().tick(true);
        }
    }

    /// Whether the timers are stopped.
    pub fn is_asleep(&self) -> bool {
        self.lock().asleep
    }

    /// Stops a follower's timers; `leader` is the node it follows.
    pub(crate) fn sleep_following(&self, raft: &DataRaft, leader: NodeId) {
        let mut state = self.lock();
        state.leader = Some(leader);
        if !state.asleep {
            state.asleep = true;
            raft.runtime_config().tick(false);
        }
    }

    /// The leader this replica follows while asleep (`None` if awake or the leader).
    pub(crate) fn sleeping_under(&self) -> Option<NodeId> {
        let state = self.lock();
        state.asleep.then_some(state.leader).flatten()
    }

    /// The activity epoch, if the replica has been idle for `idle_ms` and is awake.
    pub(crate) fn idle_epoch(&self, idle_ms: u64) -> Option<u64> {
        let state = self.lock();
        (!state.asleep && now_ms().saturating_sub(state.last_active_ms) >= idle_ms)
            .then_some(state.epoch)
    }

    /// Stops the timers if nothing woke the replica since `epoch` was read.
    pub(crate) fn sleep_if_unchanged(&self, raft: &DataRaft, epoch: u64) -> bool {
        let mut state = self.lock();
        if state.epoch != epoch || state.asleep {
            return false;
        }
        state.asleep = true;
        state.leader = None;
        raft.runtime_config().tick(false);
        true
    }
}

/// Whether a Raft message must wake the replica it reaches: everything but a
/// heartbeat (an append without entries).
pub fn wakes(msg: &RaftRequest<crate::DataTypes>) -> bool {
    !matches!(msg, RaftRequest::Append(rpc) if rpc.entries.is_empty())
}

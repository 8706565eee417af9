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
//!    whose membership is settled, asks each follower to sleep ([`NodeRequest::Hibernate`]
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

use crate::api::{NodeRequest, NodeResponse};
use crate::group::GroupReplica;
use crate::node::Node;
use crate::DataRaft;
use openraft::async_runtime::WatchReceiver;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tessera_common::raftnet::RaftRequest;
use tessera_meta::catalog::{GroupId, NodeId};
use tokio_util::sync::CancellationToken;

/// How often a node looks for groups to put to sleep.
const CHECK_EVERY: Duration = Duration::from_millis(500);
/// How long a follower waits for its leader's sleep request to be answered.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);

/// Milliseconds on a monotonic clock that starts with the process.
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
    fn sleep_following(&self, raft: &DataRaft, leader: NodeId) {
        let mut state = self.lock();
        state.leader = Some(leader);
        if !state.asleep {
            state.asleep = true;
            raft.runtime_config().tick(false);
        }
    }

    /// The leader this replica follows while asleep (`None` if awake or the leader).
    fn sleeping_under(&self) -> Option<NodeId> {
        let state = self.lock();
        state.asleep.then_some(state.leader).flatten()
    }

    /// The activity epoch, if the replica has been idle for `idle_ms` and is awake.
    fn idle_epoch(&self, idle_ms: u64) -> Option<u64> {
        let state = self.lock();
        (!state.asleep && now_ms().saturating_sub(state.last_active_ms) >= idle_ms)
            .then_some(state.epoch)
    }

    /// Stops the timers if nothing woke the replica since `epoch` was read.
    fn sleep_if_unchanged(&self, raft: &DataRaft, epoch: u64) -> bool {
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

/// What a leader tells its followers when it asks them to sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

impl GroupReplica {
    /// If this replica leads a settled group whose followers hold its whole log, the
    /// request to send them and the followers to send it to.
    fn sleep_request(&self, me: NodeId) -> Option<(SleepRequest, Vec<NodeId>)> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow_watched();
        if m.current_leader != Some(me) || !m.state.is_leader() {
            return None;
        }
        let membership = m.membership_config.membership();
        if membership.get_joint_config().len() > 1 || membership.learner_ids().next().is_some() {
            return None;
        }
        if m.committed_membership_config.log_id() != m.membership_config.log_id() {
            return None;
        }
        let last = m.last_log_index?;
        if m.last_applied.as_ref().map(|l| l.index) != Some(last) {
            return None;
        }
        let replication = m.replication.as_ref()?;
        let caught_up = replication
            .values()
            .all(|matched| matched.as_ref().map(|l| l.index) == Some(last));
        if !caught_up {
            return None;
        }
        let followers: Vec<NodeId> = membership.voter_ids().filter(|id| *id != me).collect();
        let req = SleepRequest {
            group: self.id,
            leader: me,
            term: m.current_term,
            last_log: last,
        };
        Some((req, followers))
    }

    /// A follower's answer to its leader's request to sleep.
    pub fn sleep_if_asked_by_leader(&self, req: &SleepRequest) -> bool {
        let agrees = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow_watched();
            m.current_leader == Some(req.leader)
                && m.current_term == req.term
                && !m.state.is_leader()
                && m.last_log_index == Some(req.last_log)
        };
        if agrees {
            self.hibernation.sleep_following(&self.raft, req.leader);
        }
        agrees
    }
}

impl Node {
    /// Puts idle groups this node leads to sleep, until `shutdown`.
    pub(crate) async fn hibernate_idle(self: Arc<Self>, shutdown: CancellationToken) {
        let idle_ms = self.timings.hibernate_after_ms;
        if idle_ms == 0 {
            return;
        }
        let mut tick = tessera_common::ticker::Ticker::new(CHECK_EVERY, shutdown);
        while tick.tick().await {
            let replicas: Vec<Arc<GroupReplica>> = self.groups.iter().map(|r| r.clone()).collect();
            for replica in replicas {
                let Some(epoch) = replica.hibernation.idle_epoch(idle_ms) else {
                    continue;
                };
                let Some((req, followers)) = replica.sleep_request(self.id) else {
                    continue;
                };
                let asks = followers.iter().map(|f| {
                    let client = self.peers.client(*f);
                    async move {
                        let client = client?;
                        match client.call(&NodeRequest::Hibernate(req), ASK_TIMEOUT).await {
                            Ok(NodeResponse::Hibernated(agreed)) => Some(agreed),
                            _ => None,
                        }
                    }
                });
                let answers = futures::future::join_all(asks).await;
                if answers.iter().all(|a| *a == Some(true))
                    && replica.sleep_request(self.id).map(|(r, _)| r) == Some(req)
                    && replica.hibernation.sleep_if_unchanged(&replica.raft, epoch)
                {
                    tracing::debug!(group = replica.id, "group asleep");
                }
            }
        }
    }

    /// Pings the nodes leading this node's sleeping replicas; wakes the replicas of a
    /// leader whose node stops answering, so they elect another. Runs until `shutdown`.
    pub(crate) async fn watch_sleeping_leaders(self: Arc<Self>, shutdown: CancellationToken) {
        if self.timings.hibernate_after_ms == 0 {
            return;
        }
        let every = Duration::from_millis(self.timings.heartbeat_ms.max(1) * 2);
        let silent_after = Duration::from_millis(self.timings.election_max_ms);
        let mut last_answer: HashMap<NodeId, Instant> = HashMap::new();
        let mut tick = tessera_common::ticker::Ticker::new(every, shutdown);
        while tick.tick().await {
            let mut sleeping: HashMap<NodeId, Vec<Arc<GroupReplica>>> = HashMap::new();
            for r in self.groups.iter() {
                if let Some(leader) = r.hibernation.sleeping_under().filter(|l| *l != self.id) {
                    sleeping.entry(leader).or_default().push(r.clone());
                }
            }
            last_answer.retain(|leader, _| sleeping.contains_key(leader));
            let now = Instant::now();
            let pings = sleeping.keys().map(|leader| {
                let client = self.peers.client(*leader);
                async move {
                    let ok = match client {
                        Some(c) => matches!(
                            c.call(&NodeRequest::Ping, silent_after).await,
                            Ok(NodeResponse::Pong)
                        ),
                        None => false,
                    };
                    (*leader, ok)
                }
            });
            for (leader, ok) in futures::future::join_all(pings).await {
                let heard = last_answer.entry(leader).or_insert(now);
                if ok {
                    *heard = Instant::now();
                } else if heard.elapsed() >= silent_after {
                    tracing::info!(leader, "leader's node silent: waking its sleeping groups");
                    for replica in sleeping.remove(&leader).unwrap_or_default() {
                        replica.hibernation.wake(&replica.raft);
                    }
                    last_answer.remove(&leader);
                }
            }
        }
    }
}

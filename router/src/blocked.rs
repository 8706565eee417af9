//! Blocked clients (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`): each waits in a
//! first-come queue per key on this router. Only a client at the head of one of its
//! keys' queues tries the pop; it waits for the node to report a write to one of its
//! keys ([`DataRequest::Wait`]) between tries, in rounds of at most [`WAIT_ROUND`], so
//! it follows its keys through leader changes and splits. A blocked client is a parked
//! task: it costs memory, not a thread or a busy loop.

use crate::cmd::data::{run_in_one_range, RangeFailure};
use crate::errors::{call_error, cross_range};
use crate::Context;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tessera_proto::commands::list::{popped_nothing, TIMED_OUT};
use tessera_proto::data::DataRequest;
use tessera_proto::op::{Op, OpKind};
use tessera_proto::reply::Reply;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Longest one wait on a node lasts before the client checks its keys again.
const WAIT_ROUND: Duration = Duration::from_secs(1);

/// The queues of blocked clients, per storage key.
#[derive(Default)]
pub struct Blocked {
    queues: Mutex<HashMap<Bytes, VecDeque<u64>>>,
    next: AtomicU64,
    /// Signalled whenever a queue's head changes.
    moved: Notify,
}

impl Blocked {
    /// Clients blocked now.
    pub fn count(&self) -> usize {
        let queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<u64> = queues.values().flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    fn enqueue(&self, keys: &[Bytes]) -> Ticket<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            queues.entry(key.clone()).or_default().push_back(id);
        }
        Ticket {
            blocked: self,
            id,
            keys: keys.to_vec(),
        }
    }
}

/// A client's place in the queues of its keys; leaves them when dropped (served,
/// timed out, or disconnected).
struct Ticket<'a> {
    blocked: &'a Blocked,
    id: u64,
    keys: Vec<Bytes>,
}

impl Ticket<'_> {
    /// Whether this client is first in line for one of its keys.
    fn first(&self) -> bool {
        let queues = self
            .blocked
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        self.keys
            .iter()
            .any(|k| queues.get(k).and_then(|q| q.front()) == Some(&self.id))
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut queues = self
            .blocked
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(queue) = queues.get_mut(key) {
                queue.retain(|id| *id != self.id);
                if queue.is_empty() {
                    queues.remove(key);
                }
            }
        }
        drop(queues);
        self.blocked.moved.notify_waiters();
    }
}

/// Runs a blocking pop (storage keys): tries it, and while it pops nothing, waits in
/// line for a write to one of its lists, until `timeout_ms` (0: forever).
pub async fn run(ctx: &Context, op: Op) -> Reply {
    let Op::BPop(pop) = &op else {
        return Reply::err("not a blocking command");
    };
    let keys: Vec<Bytes> = pop.keys.clone();
    let deadline =
        (pop.timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(pop.timeout_ms));
    let ticket = ctx.blocked.enqueue(&keys);
    loop {
        // Registered before checking our place, so no change of the heads is missed.
        let moved = ctx.blocked.moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        if ticket.first() {
            match run_in_one_range(ctx, op.clone()).await {
                Ok(reply) if !popped_nothing(&reply) => return reply,
                Ok(_) => {}
                Err(RangeFailure::CrossRange(_)) => return cross_range(),
                Err(RangeFailure::Call(e)) => return call_error(e),
            }
            let round = match deadline {
                Some(at) => at.saturating_duration_since(Instant::now()).min(WAIT_ROUND),
                None => WAIT_ROUND,
            };
            if round.is_zero() {
                return TIMED_OUT;
            }
            let wait = DataRequest::Wait {
                keys: keys.clone(),
                timeout_ms: round.as_millis() as u64,
            };
            let anchor = op.keys().first().map(|k| (*k).clone()).unwrap_or_default();
            if ctx.cluster.call(&anchor, wait).await.is_err() {
                // The range is moving or unavailable: look again shortly.
                tokio::time::sleep(Duration::from_millis(50).min(round)).await;
            }
        } else {
            // Not first in line: sleep until a queue's head moves (or the timeout).
            match deadline {
                Some(at) => {
                    let _ = tokio::time::timeout_at(at, moved).await;
                }
                None => moved.await,
            }
        }
        if deadline.is_some_and(|at| Instant::now() >= at) {
            return TIMED_OUT;
        }
    }
}

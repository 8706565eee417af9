//! Coalescing: requests in flight for the same group travel together. Each group has
//! one queue for writes and one for reads; a task per queue sends everything queued as
//! one request — one RPC, and for writes one Raft entry (the state machine applies a
//! command's ops in order) — and waits for it before sending the next batch, so batches
//! grow by themselves under load and a lone request is not delayed.
//!
//! Requests of one connection that must keep their order never travel together: the
//! connection sends the later one only after the earlier one is answered. Per-op
//! errors (a wrong type, a fenced key) stay with their op; a failure of the batch as a
//! whole (unavailable, outcome unknown, a stale route) is every member's.

use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tessera_common::hash::FastDashMap;
use tessera_proto::call::{call, CallError, CallOptions};
use tessera_proto::catalog::GroupId;
use tessera_proto::data::{DataRequest, DataResponse};
use tessera_proto::op::Op;
use tessera_proto::range_map::Route;
use tessera_proto::reply::Reply;
use tessera_proto::routing::CatalogRouting;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Most ops in one batch.
const MAX_BATCH_OPS: usize = 512;

/// One request waiting in a queue.
pub struct Queued {
    /// Where it was routed.
    pub route: Route,
    /// A storage key of the range the ops belong to.
    pub anchor: Bytes,
    /// The ops, in order.
    pub ops: Vec<Op>,
    /// Where the outcome goes.
    pub done: oneshot::Sender<Outcome>,
}

/// What became of a queued request.
pub enum Outcome {
    /// One reply per op.
    Replies(Vec<Reply>),
    /// The batch failed as a whole.
    Failed(CallError),
    /// The route was stale: the ops come back, to be routed again.
    Stale(CallError, Vec<Op>),
}

/// The queues of one router and the tasks draining them.
pub struct Coalescer {
    routing: Arc<CatalogRouting>,
    deadline: Duration,
    queues: FastDashMap<(GroupId, bool), mpsc::UnboundedSender<Queued>>,
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Coalescer {
    /// Queues over `routing`; a batch gives up after `deadline`.
    pub fn new(routing: Arc<CatalogRouting>, deadline: Duration) -> Self {
        Self {
            routing,
            deadline,
            queues: FastDashMap::default(),
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Queues `queued` behind the requests in flight for its group.
    ///
    /// # Errors
    /// The request back, if the coalescer is shut down.
    pub fn submit(&self, write: bool, queued: Queued) -> Result<(), Queued> {
        if self.tasks.is_closed() {
            return Err(queued);
        }
        let key = (queued.route.group(), write);
        let queue = self.queues.entry(key).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let (routing, deadline) = (self.routing.clone(), self.deadline);
            let stop = self.stop.clone();
            self.tasks.spawn(async move {
                stop.run_until_cancelled(drain(routing, deadline, write, rx))
                    .await
            });
            tx
        });
        queue.send(queued).map_err(|e| e.0)
    }

    /// Stops taking requests, drops the batches queued or in flight (their waiters see
    /// the router shutting down; a write already sent may still commit, as if the router
    /// had crashed) and waits for the tasks. Waiting for them instead could take a
    /// request deadline per queued batch while the storage nodes stop too.
    pub async fn shutdown(&self) {
        self.tasks.close();
        self.stop.cancel();
        self.queues.clear();
        self.tasks.wait().await;
    }
}

/// Drains one queue until its sender is dropped.
async fn drain(
    routing: Arc<CatalogRouting>,
    deadline: Duration,
    write: bool,
    mut queue: mpsc::UnboundedReceiver<Queued>,
) {
    while let Some(first) = queue.recv().await {
        let mut ops = first.ops.len();
        let mut batch = vec![first];
        while ops < MAX_BATCH_OPS {
            match queue.try_recv() {
                Ok(next) => {
                    ops += next.ops.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        send(&routing, deadline, write, batch).await;
    }
}

async fn send(routing: &CatalogRouting, deadline: Duration, write: bool, batch: Vec<Queued>) {
    let (route, anchor) = (batch[0].route.clone(), batch[0].anchor.clone());
    let mut counts = Vec::with_capacity(batch.len());
    let mut all = Vec::new();
    let mut waiters = Vec::with_capacity(batch.len());
    for queued in batch {
        counts.push(queued.ops.len());
        all.extend(queued.ops);
        waiters.push(queued.done);
    }
    let req = if write {
        DataRequest::Write(all)
    } else {
        DataRequest::Read(all)
    };
    let options = CallOptions {
        until: tokio::time::Instant::now() + deadline,
        stale_is_error: true,
    };
    let outcome = call(routing, &anchor, Some(route), &req, options).await;
    match outcome {
        Ok(DataResponse::Replies(replies)) if replies.len() == counts.iter().sum::<usize>() => {
            let mut replies = replies.into_iter();
            for (waiter, count) in waiters.into_iter().zip(counts) {
                let mine = replies.by_ref().take(count).collect();
                let _ = waiter.send(Outcome::Replies(mine));
            }
        }
        Err(e @ CallError::Stale(_)) => {
            let (DataRequest::Write(all) | DataRequest::Read(all)) = req else {
                return;
            };
            let mut all = all.into_iter();
            for (waiter, count) in waiters.into_iter().zip(counts) {
                let mine = all.by_ref().take(count).collect();
                let _ = waiter.send(Outcome::Stale(e.clone(), mine));
            }
        }
        other => {
            let e = other
                .err()
                .unwrap_or_else(|| CallError::Failed("unexpected reply from storage node".into()));
            for waiter in waiters {
                let _ = waiter.send(Outcome::Failed(e.clone()));
            }
        }
    }
}

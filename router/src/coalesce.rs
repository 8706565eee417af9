//! Coalescing: requests in flight for the same group travel together. Each group has
//! one queue for writes and one for reads; a task per queue sends everything queued as
//! one request — one RPC, and for writes one Raft entry (the state machine applies a
//! command's ops in order) — and waits for it before sending the next batch, so batches
//! grow by themselves under load and a lone request is not delayed.
//!
//! Requests of one connection that must keep their order never travel together: the
//! connection sends the later one only after the earlier one is answered. Per-op
//! errors (a wrong type, a fenced key) stay with their op; a failure of the batch as a
//! whole (unavailable, outcome unknown) is every member's.

use crate::cluster::{Cluster, RouteError};
use std::sync::Weak;
use tessera_meta::catalog::GroupId;
use tessera_server::{DataRequest, DataResponse, Op, OpResult};
use tokio::sync::{mpsc, oneshot};

/// Most ops in one batch.
const MAX_BATCH_OPS: usize = 512;

/// One request waiting in a queue.
pub struct Queued {
    /// A storage key of the range the ops belong to.
    pub anchor: Vec<u8>,
    /// The ops, in order.
    pub ops: Vec<Op>,
    /// Where the results go.
    pub done: oneshot::Sender<Result<Vec<OpResult>, RouteError>>,
}

/// Key of a queue: the group, and whether it carries writes.
pub type QueueKey = (GroupId, bool);

/// Drains one queue until the cluster is gone.
pub async fn run(cluster: Weak<Cluster>, write: bool, mut queue: mpsc::UnboundedReceiver<Queued>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        let mut ops = batch[0].ops.len();
        while ops < MAX_BATCH_OPS {
            match queue.try_recv() {
                Ok(next) => {
                    ops += next.ops.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let Some(cluster) = cluster.upgrade() else {
            return;
        };
        send(&cluster, write, batch).await;
    }
}

async fn send(cluster: &Cluster, write: bool, batch: Vec<Queued>) {
    let anchor = batch[0].anchor.clone();
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
    match cluster.call(&anchor, req).await {
        Ok(DataResponse::Results(results)) if results.len() == counts.iter().sum::<usize>() => {
            let mut results = results.into_iter();
            for (waiter, count) in waiters.into_iter().zip(counts) {
                let _ = waiter.send(Ok(results.by_ref().take(count).collect()));
            }
        }
        Ok(_) => {
            for waiter in waiters {
                let _ = waiter.send(Err(RouteError::Failed(
                    "unexpected reply from storage node".into(),
                )));
            }
        }
        Err(e) => {
            for waiter in waiters {
                let _ = waiter.send(Err(e.clone()));
            }
        }
    }
}

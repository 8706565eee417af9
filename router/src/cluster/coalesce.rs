//! Coalescing: requests in flight for the same group travel together. Each group has
//! one queue for writes and one for reads; a task per queue sends everything queued as
//! one request — one RPC, and for writes one Raft entry (the state machine applies a
//! command's ops in order) — and waits for it before sending the next batch, so batches
//! grow by themselves under load and a lone request is not delayed. A write batch may
//! wait a little for the clients of the previous one to send again ([`drain`]).
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

/// Drains one queue until its sender is dropped, one batch at a time.
///
/// A write batch may wait for the clients of the batch before. Clients that send one
/// command and wait for its reply send their next write shortly after their batch is
/// answered: just after the next batch, made of what queued meanwhile, left without
/// them. They would split into cohorts that take turns, each waiting two round trips
/// (docs/benchmarks.md, round eight). So after a batch of one-op write requests, the
/// next batch waits until as many requests as it carried are back, or until half its
/// round trip (at most [`MAX_HOLD`]; tokio rounds timers up to the millisecond) has
/// passed since it was answered. After a batch holding a request of several ops (a
/// connection's pipelined commands for one range), the next does not wait; reads never
/// do (a ReadIndex round trip is about as short as the clients' turnaround). After a
/// wait that brought back fewer than half of them, the next [`SKIP_AFTER_MISS`]
/// batches do not wait.
async fn drain(
    routing: Arc<CatalogRouting>,
    deadline: Duration,
    write: bool,
    mut queue: mpsc::UnboundedReceiver<Queued>,
) {
    let mut hold = Hold::default();
    while let Some((batch, ops)) = gather(&mut queue, &mut hold).await {
        // Requests of one op each: clients that wait for every reply.
        let back = if write && ops == batch.len() {
            batch.len()
        } else {
            0
        };
        let sent = tokio::time::Instant::now();
        send(&routing, deadline, write, batch).await;
        let answered = tokio::time::Instant::now();
        hold.back = back;
        hold.until = Some(answered + ((answered - sent) / HOLD_DIVISOR).min(MAX_HOLD));
    }
}

/// A write batch waits at most this fraction of the last batch's round trip...
const HOLD_DIVISOR: u32 = 2;

/// ...and never longer than this (a batch that took long, during a failover, says
/// nothing of how soon clients send again).
const MAX_HOLD: Duration = Duration::from_millis(2);

/// Batches sent without waiting after a wait that did not pay.
const SKIP_AFTER_MISS: u32 = 16;

/// What the next batch of a queue may wait for (see [`drain`]).
#[derive(Default)]
struct Hold {
    /// Requests of the last batch whose clients may send again at once (0: none).
    back: usize,
    /// Until when the next batch may wait for them.
    until: Option<tokio::time::Instant>,
    /// Batches still to send without waiting.
    skip: u32,
}

/// The next batch and its op count: what is queued, else the next request to come,
/// then as many of the last batch's requests as come back within the hold. `None` once
/// the queue is closed and empty.
async fn gather(
    queue: &mut mpsc::UnboundedReceiver<Queued>,
    hold: &mut Hold,
) -> Option<(Vec<Queued>, usize)> {
    let mut batch = Vec::new();
    let mut ops = 0;
    take_ready(queue, &mut batch, &mut ops);
    let waiting = batch.len();
    if batch.is_empty() {
        let first = queue.recv().await?;
        ops += first.ops.len();
        batch.push(first);
        take_ready(queue, &mut batch, &mut ops);
    }
    let want = waiting + hold.back;
    let now = tokio::time::Instant::now();
    if hold.skip > 0 {
        hold.skip -= 1;
    } else if let Some(until) = hold
        .until
        .filter(|u| *u > now && batch.len() < want && ops < MAX_BATCH_OPS)
    {
        let timed_out = wait_for(queue, &mut batch, &mut ops, want, until).await;
        // Fewer than half came back in time: they are doing something else now
        // (reading, or gone), so stop waiting for a while.
        if timed_out && 2 * (batch.len() - waiting) < hold.back {
            hold.skip = SKIP_AFTER_MISS;
        }
    }
    Some((batch, ops))
}

/// Adds what arrives before `until` to `batch`, until it holds `want` requests or
/// [`MAX_BATCH_OPS`] ops; whether `until` came first.
async fn wait_for(
    queue: &mut mpsc::UnboundedReceiver<Queued>,
    batch: &mut Vec<Queued>,
    ops: &mut usize,
    want: usize,
    until: tokio::time::Instant,
) -> bool {
    while batch.len() < want && *ops < MAX_BATCH_OPS {
        match tokio::time::timeout_at(until, queue.recv()).await {
            Ok(Some(next)) => {
                *ops += next.ops.len();
                batch.push(next);
                take_ready(queue, batch, ops);
            }
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
    false
}

/// Moves what is queued already into `batch`, up to [`MAX_BATCH_OPS`].
fn take_ready(
    queue: &mut mpsc::UnboundedReceiver<Queued>,
    batch: &mut Vec<Queued>,
    ops: &mut usize,
) {
    while *ops < MAX_BATCH_OPS {
        match queue.try_recv() {
            Ok(next) => {
                *ops += next.ops.len();
                batch.push(next);
            }
            Err(_) => break,
        }
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
    let req = Arc::new(if write {
        DataRequest::Write(all)
    } else {
        DataRequest::Read(all)
    });
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
            let (DataRequest::Write(all) | DataRequest::Read(all)) = Arc::unwrap_or_clone(req)
            else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::commands::strings::Get;
    use tessera_proto::range_map::Route;

    /// A queued request of `ops` ops (nobody waits for its outcome).
    fn request(ops: usize) -> Queued {
        let key = Bytes::from_static(b"k");
        Queued {
            route: Route {
                range: Arc::default(),
                leader: None,
            },
            anchor: key.clone(),
            ops: (0..ops).map(|_| Get { key: key.clone() }.into()).collect(),
            done: oneshot::channel().0,
        }
    }

    /// A queue whose requests arrive at the given offsets (paused time) from now, and
    /// its sender (the queue stays open while the test holds it).
    async fn arriving(
        at: &[u64],
    ) -> (
        mpsc::UnboundedSender<Queued>,
        mpsc::UnboundedReceiver<Queued>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        for &ms in at {
            let tx = tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let _ = tx.send(request(1));
            });
        }
        // Those due now are queued before the test looks.
        tokio::task::yield_now().await;
        (tx, rx)
    }

    /// The hold after a batch of `back` requests answered now, `round_trip_ms` after it
    /// was sent.
    fn held(back: usize, round_trip_ms: u64) -> Hold {
        let wait = (Duration::from_millis(round_trip_ms) / HOLD_DIVISOR).min(MAX_HOLD);
        Hold {
            back,
            until: Some(tokio::time::Instant::now() + wait),
            skip: 0,
        }
    }

    /// The size of the next batch, and when (since `start`) it left.
    async fn next_batch(
        queue: &mut mpsc::UnboundedReceiver<Queued>,
        hold: &mut Hold,
        start: tokio::time::Instant,
    ) -> (usize, Duration) {
        let (batch, _) = gather(queue, hold).await.unwrap();
        (batch.len(), start.elapsed())
    }

    // Tokio's timers tick in milliseconds, so the tests' times are whole milliseconds.

    #[tokio::test(start_paused = true)]
    async fn a_batch_waits_for_the_last_batchs_clients_to_come_back() {
        // Two queued while the last batch (of three) was out; its clients are back 1 ms
        // later, within the hold (half of 8 ms, at most 2 ms): all five travel
        // together, and leave as soon as they are there.
        let (_tx, mut queue) = arriving(&[0, 0, 1, 1, 1, 9]).await;
        let mut hold = held(3, 8);
        let start = tokio::time::Instant::now();
        let (batch, ops) = gather(&mut queue, &mut hold).await.unwrap();
        assert_eq!((batch.len(), ops), (5, 5));
        assert_eq!(start.elapsed(), Duration::from_millis(1));
        assert_eq!(hold.skip, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_waits_at_most_half_the_round_trip_then_stops_waiting() {
        // Three were in the last batch and none comes back: the one queued leaves after
        // half the 2 ms round trip, and the next batches do not wait.
        let (_tx, mut queue) = arriving(&[0, 10, 20]).await;
        let mut hold = held(3, 2);
        let start = tokio::time::Instant::now();
        assert_eq!(
            next_batch(&mut queue, &mut hold, start).await,
            (1, Duration::from_millis(1))
        );
        assert_eq!(hold.skip, SKIP_AFTER_MISS);
        hold.back = 1;
        assert_eq!(
            next_batch(&mut queue, &mut hold, start).await,
            (1, Duration::from_millis(10))
        );
        assert_eq!(hold.skip, SKIP_AFTER_MISS - 1);
    }

    /// The first batch of requests arriving at `at` after a batch of `back` requests
    /// with a round trip of `round_trip_ms`: its size, when it left, and the batches
    /// that will not wait after it.
    async fn first_batch(at: &[u64], back: usize, round_trip_ms: u64) -> (usize, Duration, u32) {
        let (_tx, mut queue) = arriving(at).await;
        let mut hold = held(back, round_trip_ms);
        let start = tokio::time::Instant::now();
        let (size, left) = next_batch(&mut queue, &mut hold, start).await;
        (size, left, hold.skip)
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_client_a_quiet_spell_and_a_long_round_trip_wait_little_or_not_at_all() {
        let ms = Duration::from_millis;
        // One client: its own next request is all the batch waits for.
        assert_eq!(first_batch(&[5, 6], 1, 8).await, (1, ms(5), 0));
        // A request that comes after the hold ran out (a quiet spell) waits for nobody.
        assert_eq!(first_batch(&[5, 6], 3, 8).await, (1, ms(5), 0));
        // A batch that took a second (a failover) does not make the next wait 500 ms.
        let (size, left, _) = first_batch(&[0], 4, 1000).await;
        assert_eq!((size, left), (1, MAX_HOLD));
        // A batch already full leaves at once, and that is no reason to stop waiting.
        let full = first_batch(&[0; MAX_BATCH_OPS], 600, 8).await;
        assert_eq!(full, (MAX_BATCH_OPS, Duration::ZERO, 0));
    }
}

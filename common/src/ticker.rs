//! The loop of every periodic background task: tick every so often until shutdown.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Ticks every `every` until `shutdown` is cancelled.
pub struct Ticker {
    interval: tokio::time::Interval,
    shutdown: CancellationToken,
}

impl Ticker {
    /// A ticker whose first tick is immediate.
    pub fn new(every: Duration, shutdown: CancellationToken) -> Self {
        let mut interval = tokio::time::interval(every);
        // A task that fell behind (a slow step) runs once, not in a burst.
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self { interval, shutdown }
    }

    /// Waits for the next tick: `true`, or `false` once shutdown was requested.
    pub async fn tick(&mut self) -> bool {
        tokio::select! {
            _ = self.shutdown.cancelled() => false,
            _ = self.interval.tick() => true,
        }
    }

    /// Runs one tick's work unless shutdown is requested first: `None` then, and the
    /// work is dropped where it waits. For work that may wait on other processes (an
    /// RPC, a Raft commit needing peers that are stopping too), so a shutdown does not
    /// wait out its timeouts, or forever.
    pub async fn unless_stopped<F: std::future::Future>(&self, work: F) -> Option<F::Output> {
        self.shutdown.run_until_cancelled(work).await
    }
}

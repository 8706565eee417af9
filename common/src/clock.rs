//! The wall clock, behind a seam. Expiry and sequence numbers read wall time; the
//! services take an [`Arc<dyn Clock>`](Clock) so that tests of time-dependent logic
//! can move time forward by hand ([`ManualClock`]) instead of waiting. Durations
//! (timeouts, leases, idleness) use `tokio::time`, which tests can pause.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + Debug {
    /// Nanoseconds since the Unix epoch.
    fn now_nanos(&self) -> u64;

    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64 {
        self.now_nanos() / 1_000_000
    }
}

/// This machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }
}

/// The system clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// A clock that runs with the system clock, plus an offset tests move forward.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock showing the system time until advanced.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Moves this clock forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        self.offset_nanos
            .fetch_add(by.as_nanos() as u64, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        SystemClock.now_nanos() + self.offset_nanos.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_forward_when_told() {
        let clock = ManualClock::new();
        let before = clock.now_ms();
        clock.advance(std::time::Duration::from_secs(3600));
        assert!(clock.now_ms() >= before + 3_600_000);
        assert!(SystemClock.now_ms() < before + 3_600_000);
    }
}

//! Redis's latency monitor: with `latency-monitor-threshold` above 0, commands that take
//! at least that many milliseconds leave a sample under the event `command` (or
//! `fast-command` for O(1) commands): one per second, the last 160 kept, for
//! `LATENCY LATEST|HISTORY|RESET`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tessera_proto::reply::Reply;

/// Samples kept per event.
const SAMPLES: usize = 160;

#[derive(Default)]
struct Event {
    samples: VecDeque<(i64, u64)>,
    max: u64,
}

/// Events and their samples.
#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<BTreeMap<&'static str, Event>>,
    /// `latency-monitor-threshold` (ms; 0: off).
    pub threshold_ms: AtomicU64,
}

impl LatencyMonitor {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Event>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a command that took `ms` leaves a sample.
    pub fn wants(&self, ms: u64) -> bool {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        threshold > 0 && ms >= threshold
    }

    /// Notes that `event` took `ms` at `unix_secs`, if the monitor is on and it is slow
    /// enough.
    pub fn observe(&self, event: &'static str, ms: u64, unix_secs: i64) {
        if !self.wants(ms) {
            return;
        }
        let mut events = self.lock();
        let e = events.entry(event).or_default();
        e.max = e.max.max(ms);
        match e.samples.back_mut() {
            Some((t, m)) if *t == unix_secs => *m = (*m).max(ms),
            _ => {
                e.samples.push_back((unix_secs, ms));
                if e.samples.len() > SAMPLES {
                    e.samples.pop_front();
                }
            }
        }
    }

    /// `LATENCY LATEST`.
    pub fn latest(&self) -> Reply {
        Reply::Array(
            self.lock()
                .iter()
                .filter_map(|(name, e)| {
                    let (t, ms) = e.samples.back()?;
                    Some(Reply::Array(vec![
                        Reply::bulk(*name),
                        Reply::Int(*t),
                        Reply::Int(*ms as i64),
                        Reply::Int(e.max as i64),
                    ]))
                })
                .collect(),
        )
    }

    /// `LATENCY HISTORY event`.
    pub fn history(&self, event: &[u8]) -> Reply {
        let events = self.lock();
        let samples = events
            .iter()
            .find(|(name, _)| name.as_bytes() == event)
            .map(|(_, e)| {
                e.samples
                    .iter()
                    .map(|(t, ms)| Reply::Array(vec![Reply::Int(*t), Reply::Int(*ms as i64)]))
                    .collect()
            })
            .unwrap_or_default();
        Reply::Array(samples)
    }

    /// `LATENCY RESET [event ...]`: how many events were forgotten.
    pub fn reset(&self, events: &[bytes::Bytes]) -> usize {
        let mut all = self.lock();
        if events.is_empty() {
            let n = all.len();
            all.clear();
            return n;
        }
        let before = all.len();
        all.retain(|name, _| !events.iter().any(|e| e.as_ref() == name.as_bytes()));
        before - all.len()
    }

    /// Events with samples, for `LATENCY DOCTOR`: (name, samples, latest ms, max ms).
    pub fn summary(&self) -> Vec<(&'static str, usize, u64, u64)> {
        self.lock()
            .iter()
            .map(|(n, e)| {
                let latest = e.samples.back().map_or(0, |s| s.1);
                (*n, e.samples.len(), latest, e.max)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_combine_per_second_and_reset_counts_events() {
        let m = LatencyMonitor::default();
        m.observe("command", 500, 1);
        assert_eq!(m.summary().len(), 0, "off at threshold 0");
        m.threshold_ms.store(10, Ordering::Relaxed);
        m.observe("command", 5, 1);
        m.observe("command", 20, 1);
        m.observe("command", 30, 1);
        m.observe("command", 15, 2);
        m.observe("fast-command", 11, 2);
        assert_eq!(
            m.summary(),
            [("command", 2, 15, 30), ("fast-command", 1, 11, 11)]
        );
        assert_eq!(m.reset(&[bytes::Bytes::from_static(b"command")]), 1);
        assert_eq!(m.reset(&[]), 1);
    }
}

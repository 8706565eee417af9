//! INFO's `instantaneous_ops_per_sec`, `instantaneous_input_kbps` and
//! `instantaneous_output_kbps`: like Redis, the mean of the rates over the last 16
//! samples, one taken every 100 ms (so about the last 1.6 s).

use std::sync::Mutex;

/// Samples averaged.
const SAMPLES: usize = 16;
/// How often the router samples.
pub const SAMPLE_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The counters sampled: commands, bytes read, bytes written.
pub type Totals = [u64; 3];

/// Recent rates of the router's counters.
#[derive(Default)]
pub struct Rates {
    inner: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    last: Option<(u64, Totals)>,
    rates: [[f64; 3]; SAMPLES],
    next: usize,
}

impl Rates {
    /// Records `totals` as they are at `now_ms` (milliseconds on any monotonic clock).
    /// A counter that went down (`CONFIG RESETSTAT`) counts as no change.
    pub fn sample(&self, now_ms: u64, totals: Totals) {
        let mut ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((then, before)) = ring.last {
            let elapsed = now_ms.saturating_sub(then).max(1) as f64;
            let mut rates = [0.0; 3];
            for (rate, (now, before)) in rates.iter_mut().zip(totals.iter().zip(before)) {
                *rate = now.saturating_sub(before) as f64 * 1000.0 / elapsed;
            }
            let at = ring.next;
            ring.rates[at] = rates;
            ring.next = (at + 1) % SAMPLES;
        }
        ring.last = Some((now_ms, totals));
    }

    /// The mean rate per second of each counter over the samples.
    pub fn per_second(&self) -> [f64; 3] {
        let ring = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut sums = [0.0; 3];
        for rates in &ring.rates {
            for (sum, rate) in sums.iter_mut().zip(rates) {
                *sum += rate;
            }
        }
        sums.map(|sum| sum / SAMPLES as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_the_mean_over_the_last_sixteen_samples() {
        let rates = Rates::default();
        assert_eq!(rates.per_second(), [0.0; 3]);
        rates.sample(0, [0, 0, 0]);
        // 100 commands, 2048 bytes in and 1024 out every 100 ms, for 16 samples.
        for i in 1..=16u64 {
            rates.sample(i * 100, [i * 100, i * 2048, i * 1024]);
        }
        assert_eq!(rates.per_second(), [1000.0, 20480.0, 10240.0]);
        // Idle for eight samples: half the window.
        for i in 17..=24u64 {
            rates.sample(i * 100, [1600, 16 * 2048, 16 * 1024]);
        }
        assert_eq!(rates.per_second(), [500.0, 10240.0, 5120.0]);
        // A reset to zero reads as no change, never as a negative rate.
        rates.sample(2500, [0, 0, 0]);
        assert!(rates.per_second().iter().all(|r| *r >= 0.0));
    }
}

//! A latency histogram that records without locks: 64 exact nanosecond steps, then 32
//! linear steps per power of two (about 3% resolution), up to 2^40 ns (18 minutes).

use std::sync::atomic::{AtomicU64, Ordering};

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const HALF: u64 = SUB / 2;
const MAX_EXP: u32 = 40;
const BUCKETS: usize = (SUB + (MAX_EXP - SUB_BITS + 1) as u64 * HALF) as usize;

/// Counts of durations in nanoseconds.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn index(ns: u64) -> usize {
    let ns = ns.min((1 << (MAX_EXP + 1)) - 1);
    if ns < SUB {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros();
    let top = ns >> (exp - (SUB_BITS - 1));
    (SUB + u64::from(exp - SUB_BITS) * HALF + (top - HALF)) as usize
}

/// The largest value bucket `i` holds.
fn highest(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let exp = (i - SUB) / HALF + u64::from(SUB_BITS);
    let top = (i - SUB) % HALF + HALF;
    let shift = exp - u64::from(SUB_BITS - 1);
    (top << shift) + (1 << shift) - 1
}

impl Histogram {
    /// Records one duration.
    pub fn record(&self, ns: u64) {
        self.counts[index(ns)].fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets every value.
    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// The value (ns) at or under which `percentile`% of the recorded values lie; 0
    /// when nothing was recorded.
    pub fn percentiles(&self, percentiles: &[f64]) -> Vec<u64> {
        let counts = self.snapshot();
        let total: u64 = counts.iter().sum();
        percentiles
            .iter()
            .map(|p| {
                if total == 0 {
                    return 0;
                }
                let wanted = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
                let mut seen = 0;
                for (i, c) in counts.iter().enumerate() {
                    seen += c;
                    if seen >= wanted {
                        return highest(i);
                    }
                }
                highest(BUCKETS - 1)
            })
            .collect()
    }

    /// Cumulative counts at the boundaries `LATENCY HISTOGRAM` reports (as Redis: powers
    /// of two from 1,024 ns, labelled in whole microseconds), skipping boundaries that
    /// add nothing, until every value is counted.
    pub fn power_of_two_cdf(&self) -> Vec<(u64, u64)> {
        let counts = self.snapshot();
        let total: u64 = counts.iter().sum();
        let mut out = Vec::new();
        let (mut seen, mut i) = (0u64, 0usize);
        for k in 0..=MAX_EXP {
            if seen == total {
                break;
            }
            // Redis's boundaries: the highest value HdrHistogram (2 significant
            // figures) treats as equal to 1,024 * 2^k ns.
            let limit = (1032u64 << k) - 1;
            let before = seen;
            while i < BUCKETS && highest(i) <= limit {
                seen += counts[i];
                i += 1;
            }
            if seen > before {
                out.push((limit / 1000, seen));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_in_order_within_three_percent() {
        let mut last = 0;
        for ns in (0..2_000_000u64).step_by(7).chain([1 << 30, 1 << 39]) {
            let i = index(ns);
            assert!(i >= last || ns == 0);
            last = i;
            assert!(highest(i) >= ns, "{ns} in bucket {i} up to {}", highest(i));
            assert!(highest(i) - ns <= ns / 32 + 1, "{ns}: {}", highest(i));
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn percentiles_and_redis_style_cdf() {
        let h = Histogram::default();
        for us in 1..=100u64 {
            h.record(us * 1000);
        }
        let p = h.percentiles(&[50.0, 99.0, 100.0]);
        assert!((49_000..=51_600).contains(&p[0]), "{p:?}");
        assert!((98_000..=101_600).contains(&p[1]), "{p:?}");
        let cdf = h.power_of_two_cdf();
        assert_eq!(cdf.first(), Some(&(1, 1)));
        assert_eq!(cdf.last().map(|c| c.1), Some(100));
        assert_eq!(
            cdf.iter().map(|c| c.0).collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 33, 66, 132]
        );
        h.reset();
        assert_eq!(h.percentiles(&[50.0]), [0]);
        assert!(h.power_of_two_cdf().is_empty());
    }
}

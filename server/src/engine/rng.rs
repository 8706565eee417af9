//! Randomness for commands that pick members (`HRANDFIELD`, ...). Writes take it from
//! the sequence number and clock carried in the Raft entry, so every replica picks the
//! same; reads run with a sequence number drawn for the request.

use super::Engine;

/// Most elements a negative count may ask for (Redis streams any number; a node
/// builds its reply in memory first).
pub(crate) const MAX_PICKS: u64 = 10_000_000;

/// A small deterministic generator (SplitMix64).
pub(crate) struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Indexes into `len` elements as Redis's count argument asks: up to `count`
    /// distinct ones for a positive count, exactly `-count` with repeats for a
    /// negative one.
    pub fn picks(&mut self, len: usize, count: i64) -> Vec<usize> {
        if len == 0 || count == 0 {
            return Vec::new();
        }
        if count < 0 {
            let n = count.unsigned_abs().min(MAX_PICKS) as usize;
            return (0..n).map(|_| self.below(len)).collect();
        }
        let mut all: Vec<usize> = (0..len).collect();
        let n = (count as u64).min(len as u64) as usize;
        for i in 0..n {
            let j = i + self.below(len - i);
            all.swap(i, j);
        }
        all.truncate(n);
        all
    }
}

impl Engine<'_> {
    /// A generator seeded by the op's sequence number, time and key.
    pub(crate) fn rng(&mut self, key: &[u8]) -> Rng {
        self.picks_drawn += 1;
        let mut seed = (self.seq.0 as u64) ^ ((self.seq.0 >> 64) as u64) ^ self.now_ms;
        for &b in key {
            seed = seed.rotate_left(5) ^ u64::from(b);
        }
        Rng(seed ^ self.picks_drawn.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_follow_the_count_rules() {
        let mut rng = Rng(1);
        let mut distinct = rng.picks(5, 3);
        assert_eq!(distinct.len(), 3);
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 3);
        assert_eq!(rng.picks(5, 10).len(), 5);
        assert_eq!(rng.picks(2, -7).len(), 7);
        assert!(rng.picks(0, -7).is_empty());
        assert!(rng.picks(3, 0).is_empty());
    }
}

//! How busy a replica is and where its load falls: requests counted as they are served,
//! and a reservoir of sampled keys, from which a load-based split picks a key that
//! leaves a similar share of the requests on each side (TiKV's and CockroachDB's load
//! splitters sample keys the same way).

use super::GroupReplica;
use crate::value::StoredValue;
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use tessera_proto::catalog::RangeDesc;
use tessera_proto::data::DataError;
use tessera_proto::op::{Op, OpKind};

/// Keys kept in the reservoir.
const RESERVOIR: usize = 256;
/// One request in this many has its key sampled.
const SAMPLE_EVERY: u64 = 4;
/// The reservoir starts over after this many samples, so it reflects recent load.
const SAMPLES_PER_WINDOW: u64 = 20_000;
/// Fewest samples a load-based split decides on.
const MIN_SAMPLES: usize = 20;
/// A key holding more than this share of the samples makes the range unsplittable by
/// load: no split point separates a single key's requests.
const HOT_KEY_SHARE: f64 = 0.8;

/// Why the sampled load gives no split key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSplit {
    /// Too few requests were sampled to decide.
    LittleLoad,
    /// One key carries most of the load: no split point separates it.
    HotKey,
}

impl std::fmt::Display for NoSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoSplit::LittleLoad => "too little load to split by",
            NoSplit::HotKey => "one key carries most of the range's load",
        })
    }
}

/// Requests served and sampled keys of one replica.
#[derive(Default)]
pub struct Load {
    ops: AtomicU64,
    sampler: Mutex<Sampler>,
}

#[derive(Default)]
struct Sampler {
    keys: Vec<Bytes>,
    seen: u64,
    rng: u64,
}

impl Sampler {
    fn next_random(&mut self) -> u64 {
        // xorshift64: cheap, and any sequence of choices is a valid sample.
        if self.rng == 0 {
            self.rng = tessera_common::identity::random() | 1;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn offer(&mut self, key: &Bytes) {
        if self.seen >= SAMPLES_PER_WINDOW {
            self.keys.clear();
            self.seen = 0;
        }
        self.seen += 1;
        if self.keys.len() < RESERVOIR {
            self.keys.push(key.clone());
        } else {
            let slot = (self.next_random() % self.seen) as usize;
            if slot < RESERVOIR {
                self.keys[slot] = key.clone();
            }
        }
    }
}

impl Load {
    /// Counts `ops` and samples their keys now and then.
    pub fn record(&self, ops: &[Op]) {
        let before = self.ops.fetch_add(ops.len() as u64, Relaxed);
        let after = before + ops.len() as u64;
        if before / SAMPLE_EVERY == after / SAMPLE_EVERY {
            return;
        }
        let mut sampler = self.sampler.lock().unwrap_or_else(|p| p.into_inner());
        for op in ops {
            if let Some(key) = op.keys().first() {
                sampler.offer(key);
            }
        }
    }

    /// Ops served so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Relaxed)
    }

    /// The key that balances the sampled load within `range`, or why there is none.
    pub fn balanced_key(&self, range: &RangeDesc) -> Result<Bytes, NoSplit> {
        let mut keys: Vec<Bytes> = {
            let sampler = self.sampler.lock().unwrap_or_else(|p| p.into_inner());
            let inside = sampler.keys.iter().filter(|k| range.contains(k));
            inside.cloned().collect()
        };
        if keys.len() < MIN_SAMPLES {
            return Err(NoSplit::LittleLoad);
        }
        keys.sort_unstable();
        let hottest = keys
            .chunk_by(|a, b| a == b)
            .map(<[Bytes]>::len)
            .max()
            .unwrap_or(0);
        if hottest as f64 > HOT_KEY_SHARE * keys.len() as f64 {
            return Err(NoSplit::HotKey);
        }
        // The median, moved up past its equals so both sides keep some load.
        let middle = keys.len() / 2;
        let at = keys[middle..]
            .iter()
            .find(|k| k.as_ref() > range.start.as_slice() && **k != keys[0])
            .or_else(|| keys.iter().find(|k| **k != keys[0]));
        at.cloned().ok_or(NoSplit::HotKey)
    }
}

impl GroupReplica {
    /// Where this range could split: the middle key by bytes, or the key balancing the
    /// sampled load; `Err` in the answer says why it cannot.
    pub(super) fn split_key(
        &self,
        range: &RangeDesc,
        by_load: bool,
    ) -> Result<Result<Bytes, String>, DataError> {
        if by_load {
            return Ok(self.load.balanced_key(range).map_err(|e| e.to_string()));
        }
        let half = self.bytes() / 2;
        let view = self.ks.db.snapshot();
        let bounds = range.start.as_slice()..range.end.as_slice();
        let mut seen = 0u64;
        let mut first = true;
        for kv in fjall::Readable::range(&view, &self.ks.data, bounds) {
            let (k, v) = kv
                .into_inner()
                .map_err(|e| DataError::Internal(e.to_string()))?;
            let live = !StoredValue::is_expired_raw(&v, self.clock.now_ms());
            if seen >= half && !first && live {
                return Ok(Ok(Bytes::copy_from_slice(&k)));
            }
            seen += (k.len() + v.len()) as u64;
            first = false;
        }
        Ok(Err("one key holds the range's data".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::commands::strings::Get;

    fn range() -> RangeDesc {
        RangeDesc {
            start: b"a".to_vec(),
            end: b"z".to_vec(),
            ..Default::default()
        }
    }

    fn serve(load: &Load, key: &str, times: usize) {
        for _ in 0..times {
            let op = Get {
                key: Bytes::from(key.to_string()),
            }
            .into();
            load.record(&[op]);
        }
    }

    #[test]
    fn the_balanced_key_splits_the_sampled_load() {
        let load = Load::default();
        for key in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            serve(&load, key, 40);
        }
        let at = load.balanced_key(&range()).unwrap();
        assert!(
            at.as_ref() >= &b"d"[..] && at.as_ref() <= &b"g"[..],
            "{at:?}"
        );
        assert_eq!(load.ops(), 320);
    }

    #[test]
    fn one_hot_key_cannot_split() {
        let load = Load::default();
        serve(&load, "hot", 400);
        serve(&load, "cold", 8);
        assert_eq!(load.balanced_key(&range()), Err(NoSplit::HotKey));
        let idle = Load::default().balanced_key(&range());
        assert_eq!(idle, Err(NoSplit::LittleLoad));
    }
}

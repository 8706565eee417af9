//! The node's point-read cache: the stored bytes (or absence) of keys that `GET`s read
//! recently, in front of fjall, whose memtable lookup walks a skiplist of every version
//! in memory (about twenty dependent loads, most of them cache misses).
//! docs/storage.md, "Point-read cache".
//!
//! A read through the cache sees each key as it is *now*: a hit is the key's latest
//! applied value, a miss reads a snapshot of fjall taken then (fjall's own latest
//! state may show part of a batch being committed). So a batch of
//! such reads behaves like the same reads run one after the other, which is what a
//! pipeline of `GET`s may expect; reads that need one point in time (`MGET`, the
//! members of a collection) do not use the cache. Three rules keep a hit the latest
//! value, whichever of the node's groups writes the key:
//!
//! - A batch being applied marks the shards of the keys it writes as pending before it
//!   commits to fjall; while a shard is pending its entries are not served (a read
//!   then reads a fresh snapshot, which holds all of a batch or none of it).
//! - After the commit, the batch removes each key it wrote and bumps its shard's
//!   generation, under the shard's lock, and then clears the pending marks.
//! - A read that missed fills the cache only if its shard's generation is still the
//!   one it loaded *before* reading fjall: if a write committed after that read, either
//!   its removal came first (the generation moved: no fill) or the fill came first
//!   (the removal then drops the stale bytes).
//!
//! Installing a snapshot or deleting a replica's data marks every shard pending
//! before its commit and empties the whole cache after it.

use bytes::Bytes;
use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use tessera_common::hash::FastHasher;

/// Shards: independent locks, generations and pending marks (one bit each in a `u64`).
const SHARDS: usize = 64;
/// Bytes counted for an entry beyond its key and value (the map's slot and the shared
/// header of its bytes).
const ENTRY_OVERHEAD: usize = 64;

/// Keys up to this long are kept in the map's slot itself.
const INLINE_KEY: usize = 24;

/// A cached key and its stored bytes. A key of up to [`INLINE_KEY`] bytes sits in the
/// map's slot, so the lookup compares it with no load beyond the slot, and a key cached
/// as absent costs no allocation at all; its value (if any) is one allocation of its
/// own. A longer key is stored with the value in one allocation (`key ++ stored`): the
/// lookup that compares the key has then loaded the start of the value too. Either
/// way a hit shares the value, copying nothing.
struct Cached {
    inline: [u8; INLINE_KEY],
    /// At most `MAX_KEY_BYTES` (64 KiB); a `u32` keeps the slot at 64 bytes.
    key_len: u32,
    present: bool,
    /// The value (inline key), or the key and then the value (longer key).
    data: Bytes,
}

impl Cached {
    fn new(key: &[u8], value: Option<&[u8]>) -> Self {
        let value_bytes = value.unwrap_or_default();
        let mut inline = [0; INLINE_KEY];
        let data = if key.len() <= INLINE_KEY {
            inline[..key.len()].copy_from_slice(key);
            if value_bytes.is_empty() {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(value_bytes)
            }
        } else {
            let mut data = Vec::with_capacity(key.len() + value_bytes.len());
            data.extend_from_slice(key);
            data.extend_from_slice(value_bytes);
            Bytes::from(data)
        };
        Self {
            inline,
            key_len: u32::try_from(key.len()).expect("keys are at most 64 KiB"),
            present: value.is_some(),
            data,
        }
    }

    fn inline(&self) -> bool {
        self.key_len as usize <= INLINE_KEY
    }

    fn key(&self) -> &[u8] {
        let len = self.key_len as usize;
        if self.inline() {
            &self.inline[..len]
        } else {
            &self.data[..len]
        }
    }

    fn value(&self) -> Option<Bytes> {
        self.present.then(|| {
            if self.inline() {
                self.data.clone()
            } else {
                self.data.slice(self.key_len as usize..)
            }
        })
    }

    /// What it counts against its shard's share.
    fn size(&self) -> usize {
        let value_len = if self.inline() {
            self.data.len()
        } else {
            self.data.len() - self.key_len as usize
        };
        self.key_len as usize + value_len + ENTRY_OVERHEAD
    }
}

// Equal and hashed as its key alone, so that the set is looked up by `&[u8]`.
impl PartialEq for Cached {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Cached {}

impl Hash for Cached {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl Borrow<[u8]> for Cached {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

/// A shard's entries hash with the standard library's keyed SipHash: the keys are the
/// clients' (FxHash picks the shard; a client that aims every key at one shard only
/// shrinks its own cache).
#[derive(Default)]
struct Entries {
    map: HashSet<Cached>,
    bytes: usize,
    /// Reads this shard answered, and reads it could not (absent, or pending).
    hits: u64,
    misses: u64,
}

#[derive(Default)]
struct Shard {
    entries: Mutex<Entries>,
    generation: AtomicU64,
    /// Batches writing keys of this shard that have not finished applying.
    pending: AtomicU32,
}

/// The cache (see the module docs).
pub struct ReadCache {
    shards: Vec<Shard>,
    shard_bytes: usize,
}

/// What the cache holds and how well it serves, summed over its shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads answered from the cache, since the node started.
    pub hits: u64,
    /// Reads that went to fjall.
    pub misses: u64,
    /// Bytes counted against the cache's size (keys, values, bookkeeping).
    pub bytes: u64,
    /// Keys cached.
    pub entries: u64,
}

/// Where a missed read stood before it read fjall.
pub struct Seen {
    shard: usize,
    generation: u64,
}

/// The pending marks of a batch being applied; cleared when dropped (also if the
/// commit failed).
pub struct Pending<'a> {
    cache: &'a ReadCache,
    shards: u64,
}

impl ReadCache {
    /// A cache of at most about `bytes` (keys, values and bookkeeping).
    pub fn new(bytes: u64) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            shard_bytes: (bytes as usize / SHARDS).max(1),
        }
    }

    fn shard_of(key: &[u8]) -> usize {
        (FastHasher.hash_one(key) as usize) % SHARDS
    }

    fn entries(&self, shard: usize) -> std::sync::MutexGuard<'_, Entries> {
        self.shards[shard]
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached stored bytes of `key` (`Some(None)`: cached as absent); `None` on a
    /// miss, with what [`ReadCache::fill`] needs.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, Seen> {
        let at = Self::shard_of(key);
        let shard = &self.shards[at];
        let mut entries = self.entries(at);
        let seen = Seen {
            shard: at,
            generation: shard.generation.load(Ordering::Acquire),
        };
        let found = if shard.pending.load(Ordering::Acquire) > 0 {
            None
        } else {
            entries.map.get(key).map(Cached::value)
        };
        match found {
            Some(value) => {
                entries.hits += 1;
                Ok(value)
            }
            None => {
                entries.misses += 1;
                Err(seen)
            }
        }
    }

    /// Hits, misses and size so far (each shard locked in turn: for metrics, not
    /// the hot path).
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats::default();
        for at in 0..SHARDS {
            let entries = self.entries(at);
            stats.hits += entries.hits;
            stats.misses += entries.misses;
            stats.bytes += entries.bytes as u64;
            stats.entries += entries.map.len() as u64;
        }
        stats
    }

    /// Caches what a read that missed (`seen`) then found in fjall for `key`, unless a
    /// write to the key's shard was applied since; returns the value, shared with the
    /// cache (one copy of it either way).
    pub fn fill(&self, seen: Seen, key: &[u8], value: Option<&[u8]>) -> Option<Bytes> {
        let cached = Cached::new(key, value);
        let found = cached.value();
        let size = cached.size();
        if size > self.shard_bytes {
            return found; // Larger than the shard's share: never cached.
        }
        let mut entries = self.entries(seen.shard);
        let shard = &self.shards[seen.shard];
        if shard.generation.load(Ordering::Acquire) != seen.generation {
            return found;
        }
        if entries.bytes + size > self.shard_bytes {
            // Full: start the shard afresh (cheaper than tracking recency per entry).
            entries.map.clear();
            entries.bytes = 0;
        }
        if let Some(old) = entries.map.replace(cached) {
            entries.bytes -= old.size();
        }
        entries.bytes += size;
        found
    }

    /// Marks the shards of `keys`, about to be written, as pending.
    pub fn writing<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) -> Pending<'_> {
        let mut shards = 0u64;
        for key in keys {
            shards |= 1 << Self::shard_of(key);
        }
        for at in bits(shards) {
            self.shards[at].pending.fetch_add(1, Ordering::AcqRel);
        }
        Pending {
            cache: self,
            shards,
        }
    }

    /// Marks every shard as pending: before a commit that may write any key (a
    /// snapshot installed, a replica's data deleted); then [`Pending::cleared`].
    pub fn writing_all(&self) -> Pending<'_> {
        for shard in &self.shards {
            shard.pending.fetch_add(1, Ordering::AcqRel);
        }
        Pending {
            cache: self,
            shards: u64::MAX,
        }
    }
}

impl Pending<'_> {
    /// Forgets `keys` (those passed to [`ReadCache::writing`]), now committed.
    pub fn written<'a>(self, keys: impl Iterator<Item = &'a [u8]>) {
        for key in keys {
            let at = ReadCache::shard_of(key);
            let mut entries = self.cache.entries(at);
            if let Some(old) = entries.map.take(key) {
                entries.bytes -= old.size();
            }
            self.cache.shards[at]
                .generation
                .fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Pending<'_> {
    /// Forgets everything, now that a commit that may have written any key (see
    /// [`ReadCache::writing_all`]) is done.
    pub fn cleared(self) {
        for at in 0..SHARDS {
            let mut entries = self.cache.entries(at);
            entries.map.clear();
            entries.bytes = 0;
            self.cache.shards[at]
                .generation
                .fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        for at in bits(self.shards) {
            self.cache.shards[at].pending.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The positions of the set bits of `mask`.
fn bits(mask: u64) -> impl Iterator<Item = usize> {
    (0..SHARDS).filter(move |at| mask & (1 << at) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &[u8] = b"k";

    #[test]
    fn a_fill_after_a_write_is_refused_and_a_write_drops_an_earlier_fill() {
        let cache = ReadCache::new(1 << 20);
        let old = Some(Bytes::from_static(b"old"));
        // A read misses, then a write commits and is applied: the read's (older)
        // value must not be cached.
        let seen = cache.get(K).unwrap_err();
        cache.writing([K].into_iter()).written([K].into_iter());
        cache.fill(seen, K, old.as_deref());
        assert!(cache.get(K).is_err());
        // The fill lands before the write is applied: the write drops it.
        let seen = cache.get(K).unwrap_err();
        cache.fill(seen, K, old.as_deref());
        assert_eq!(cache.get(K).ok(), Some(old.clone()));
        let pending = cache.writing([K].into_iter());
        // While the batch commits, the entry is not served.
        assert!(cache.get(K).is_err());
        pending.written([K].into_iter());
        assert!(cache.get(K).is_err());
    }

    #[test]
    fn a_failed_batch_clears_its_marks_and_a_clear_refuses_older_fills() {
        let cache = ReadCache::new(1 << 20);
        let seen = cache.get(K).unwrap_err();
        cache.fill(seen, K, None);
        drop(cache.writing([K].into_iter()));
        assert_eq!(cache.get(K).ok(), Some(None), "absence is cached too");
        let seen = cache.get(b"other").unwrap_err();
        let all = cache.writing_all();
        assert!(cache.get(K).is_err(), "not served while any key may change");
        all.cleared();
        assert!(cache.get(K).is_err());
        cache.fill(seen, b"other", None);
        assert!(cache.get(b"other").is_err());
    }

    #[test]
    fn refilling_an_entry_keeps_the_count_and_an_oversize_value_is_not_cached() {
        let cache = ReadCache::new(SHARDS as u64 * 1000);
        // Two reads missed; both fill, the second over the first.
        let (first, second) = (cache.get(K).unwrap_err(), cache.get(K).unwrap_err());
        cache.fill(first, K, Some(&[0; 10]));
        cache.fill(second, K, Some(&[0; 20]));
        cache.writing([K].into_iter()).written([K].into_iter());
        assert!(cache
            .shards
            .iter()
            .all(|s| s.entries.lock().unwrap().bytes == 0));
        let seen = cache.get(b"big").unwrap_err();
        cache.fill(seen, b"big", Some(&[0; 2000]));
        assert!(cache.get(b"big").is_err());
    }

    #[test]
    fn stats_count_hits_misses_and_size() {
        let cache = ReadCache::new(1 << 20);
        let value = Some(Bytes::from_static(b"value"));
        let seen = cache.get(K).unwrap_err();
        cache.fill(seen, K, value.as_deref());
        assert_eq!(cache.get(K).ok(), Some(value.clone()));
        assert_eq!(cache.get(K).ok(), Some(value.clone()));
        let pending = cache.writing([K].into_iter());
        assert!(cache.get(K).is_err(), "pending: a miss");
        drop(pending);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (2, 2, 1));
        assert_eq!(stats.bytes, (K.len() + 5 + ENTRY_OVERHEAD) as u64);
    }

    #[test]
    fn hits_share_one_copy_of_the_value() {
        let cache = ReadCache::new(1 << 20);
        let seen = cache.get(K).unwrap_err();
        let filled = cache.fill(seen, K, Some(b"value")).unwrap();
        let hit = || cache.get(K).ok().flatten();
        let (first, second) = (hit(), hit());
        assert_eq!(first.as_deref(), Some(&b"value"[..]));
        let at = |b: &Option<Bytes>| b.as_ref().map(|b| b.as_ptr());
        assert_eq!(at(&first), Some(filled.as_ptr()));
        assert_eq!(at(&first), at(&second));
        // Other keys of the shard are told apart by the key alone.
        let seen = cache.get(b"k2").unwrap_err();
        assert_eq!(cache.fill(seen, b"k2", None), None);
        assert_eq!(cache.get(b"k2").ok(), Some(None));
        assert_eq!(hit().as_deref(), Some(&b"value"[..]));
    }

    #[test]
    fn long_keys_are_told_apart_and_keep_their_value() {
        let cache = ReadCache::new(1 << 20);
        let long = [b'x'; INLINE_KEY + 1];
        let longer = [b'x'; INLINE_KEY + 2];
        for (key, value) in [(&long[..], &b"one"[..]), (&longer[..], &b"two"[..])] {
            let seen = cache.get(key).unwrap_err();
            assert_eq!(cache.fill(seen, key, Some(value)).as_deref(), Some(value));
        }
        assert_eq!(
            cache.get(&long).ok().flatten().as_deref(),
            Some(&b"one"[..])
        );
        assert_eq!(
            cache.get(&longer).ok().flatten().as_deref(),
            Some(&b"two"[..])
        );
        let stats = cache.stats();
        assert_eq!(
            stats.bytes,
            (2 * INLINE_KEY + 3 + 6 + 2 * ENTRY_OVERHEAD) as u64
        );
        // An empty value is present, not absent.
        let seen = cache.get(b"empty").unwrap_err();
        cache.fill(seen, b"empty", Some(b""));
        assert_eq!(cache.get(b"empty").ok(), Some(Some(Bytes::new())));
        assert_eq!(std::mem::size_of::<Cached>(), 64);
    }

    #[test]
    fn a_full_shard_starts_afresh() {
        let cache = ReadCache::new(SHARDS as u64 * 200);
        for i in 0..10_000u32 {
            let key = i.to_be_bytes();
            let seen = cache.get(&key).unwrap_err();
            cache.fill(seen, &key, Some(&[0; 100]));
        }
        for shard in &cache.shards {
            assert!(shard.entries.lock().unwrap().bytes <= 200);
        }
    }
}

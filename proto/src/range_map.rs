//! Routing as a value: the [`RangeMap`] finds the range holding a storage key in
//! O(log n) (ranges ordered by start key), and a [`Route`] — range, epoch, group and
//! the leader believed current — is computed once per request and travels with it
//! down to the RPC.
//!
//! The map follows the catalog and also learns from the range descriptors a replica
//! sends back with `EpochMismatch`: a descriptor replaces every overlapping one of a
//! lower epoch, so a router that missed a split or merge routes right at once,
//! without waiting for the catalog.

use crate::catalog::{Catalog, GroupId, NodeId, RangeDesc, RangeId};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where one request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The range holding the request's keys.
    pub range: Arc<RangeDesc>,
    /// The node believed to lead the range's group, if any.
    pub leader: Option<NodeId>,
}

impl Route {
    /// The range's id.
    pub fn range_id(&self) -> RangeId {
        self.range.id
    }

    /// The group serving the range.
    pub fn group(&self) -> GroupId {
        self.range.group
    }

    /// The epoch the request is routed with.
    pub fn epoch(&self) -> u64 {
        self.range.epoch
    }
}

/// Ranges by start key.
#[derive(Clone, Debug, Default)]
pub struct RangeMap {
    by_start: BTreeMap<Vec<u8>, Arc<RangeDesc>>,
    /// The catalog version the map was built from.
    version: u64,
}

impl RangeMap {
    /// The ranges of `catalog`.
    pub fn from_catalog(catalog: &Catalog) -> Self {
        let mut map = Self {
            by_start: BTreeMap::new(),
            version: catalog.version,
        };
        for range in catalog.ranges.values() {
            map.learn(range.clone());
        }
        map
    }

    /// The catalog version this map follows.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.by_start.len()
    }

    /// Whether there is no range at all.
    pub fn is_empty(&self) -> bool {
        self.by_start.is_empty()
    }

    /// The range holding `storage_key`.
    pub fn lookup(&self, storage_key: &[u8]) -> Option<&Arc<RangeDesc>> {
        use std::ops::Bound::{Included, Unbounded};
        let bounds: (std::ops::Bound<&[u8]>, _) = (Unbounded, Included(storage_key));
        let (_, range) = self.by_start.range::<[u8], _>(bounds).next_back()?;
        range.contains(storage_key).then_some(range)
    }

    /// Every range, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<RangeDesc>> {
        self.by_start.values()
    }

    /// Takes in `range` unless an overlapping range with a higher epoch is known;
    /// overlapping ranges of a lower or equal epoch are dropped. Returns whether the
    /// map changed.
    pub fn learn(&mut self, range: RangeDesc) -> bool {
        use std::ops::Bound::{Excluded, Unbounded};
        let overlapping: Vec<Vec<u8>> = self
            .by_start
            .range::<[u8], _>((Unbounded, Excluded(range.end.as_slice())))
            .rev()
            .take_while(|(_, r)| r.end > range.start)
            .map(|(start, _)| start.clone())
            .collect();
        let newer = overlapping
            .iter()
            .filter_map(|s| self.by_start.get(s))
            .any(|r| r.epoch > range.epoch || (r.epoch == range.epoch && **r == range));
        if newer {
            return false;
        }
        for start in overlapping {
            self.by_start.remove(&start);
        }
        self.by_start.insert(range.start.clone(), Arc::new(range));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(id: RangeId, start: &[u8], end: &[u8], epoch: u64) -> RangeDesc {
        RangeDesc {
            id,
            table: 0,
            start: start.to_vec(),
            end: end.to_vec(),
            epoch,
            group: id * 10,
        }
    }

    #[test]
    fn lookup_finds_the_range_holding_a_key() {
        let mut map = RangeMap::default();
        map.learn(range(1, b"a", b"m", 1));
        map.learn(range(2, b"m", b"z", 1));
        assert_eq!(map.lookup(b"a").map(|r| r.id), Some(1));
        assert_eq!(map.lookup(b"lzz").map(|r| r.id), Some(1));
        assert_eq!(map.lookup(b"m").map(|r| r.id), Some(2));
        assert_eq!(map.lookup(b"z"), None);
        assert_eq!(map.lookup(b"0"), None);
    }

    #[test]
    fn newer_descriptors_replace_overlapping_older_ones() {
        let mut map = RangeMap::default();
        map.learn(range(1, b"a", b"z", 1));
        // A split: the parent shrinks, the child takes the upper half.
        assert!(map.learn(range(1, b"a", b"m", 2)));
        assert!(map.learn(range(2, b"m", b"z", 2)));
        assert_eq!(map.lookup(b"q").map(|r| r.id), Some(2));
        assert_eq!(map.len(), 2);
        // A stale descriptor from an old catalog does not undo the split.
        assert!(!map.learn(range(1, b"a", b"z", 1)));
        assert_eq!(map.lookup(b"q").map(|r| r.id), Some(2));
        // A merge: range 1 absorbs range 2 with a higher epoch.
        assert!(map.learn(range(1, b"a", b"z", 3)));
        assert_eq!(map.lookup(b"q").map(|r| (r.id, r.epoch)), Some((1, 3)));
        assert_eq!(map.len(), 1);
    }
}

//! Splits and merges at the state machine: a split moves a bound and writes the new
//! group's record over data that stays where it is; a merge absorbs a frozen
//! neighbour's record. A property test runs random writes, splits and merges against a
//! model and checks that the ranges always tile the table and no key is lost, altered
//! or served by two groups.

use bytes::Bytes;
use futures::stream;
use openraft::storage::RaftStateMachine;
use openraft::type_config::alias::EntryOf;
use openraft::EntryPayload;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::io;
use tempfile::TempDir;
use tessera_common::Store;
use tessera_proto::catalog::{GroupId, RangeDesc};
use tessera_proto::commands::expiry::Expiry;
use tessera_proto::commands::strings::{Set, SetCond, SetReply};
use tessera_proto::data::RangeChange;
use tessera_proto::keys::{storage_key, table_end, table_start};
use tessera_proto::op::Op;
use tessera_server::state_machine::{
    CommandBody, DataCommand, DataKeyspaces, GroupStateMachine, RangeEvent,
};
use tessera_server::value::{Seq, StoredValue};
use tessera_server::DataTypes;

/// The groups of one node over one shared data keyspace, and their next log indexes.
struct Node {
    _store: Store,
    ks: DataKeyspaces,
    groups: BTreeMap<GroupId, (GroupStateMachine, u64)>,
    events: tokio::sync::mpsc::UnboundedReceiver<RangeEvent>,
    events_tx: tokio::sync::mpsc::UnboundedSender<RangeEvent>,
    seq: u64,
}

impl Node {
    fn open(dir: &TempDir) -> Self {
        let store = Store::open(dir.path()).unwrap();
        let ks = DataKeyspaces::open(&store.db, store.syncer.clone(), store.snapshots.clone());
        let ks = ks.unwrap();
        let whole = RangeDesc {
            id: 1,
            table: 0,
            start: table_start(0),
            end: table_end(0),
            epoch: 1,
            group: 1,
        };
        let (events_tx, events) = tokio::sync::mpsc::unbounded_channel();
        let sm =
            GroupStateMachine::open_with_events(ks.clone(), 1, &whole, Some(events_tx.clone()));
        let groups = [(1, (sm.unwrap(), 1))].into();
        Self {
            _store: store,
            ks,
            groups,
            events,
            events_tx,
            seq: 0,
        }
    }

    fn range(&self, group: GroupId) -> RangeDesc {
        (*self.groups[&group].0.applied().range()).clone()
    }

    /// Applies `body` to `group` under its current epoch; the log index used.
    async fn apply(&mut self, group: GroupId, body: CommandBody) -> u64 {
        let epoch = self.range(group).epoch;
        self.seq += 1;
        let cmd = DataCommand {
            seq: Seq::new(self.seq, 0, 1),
            now_ms: 1,
            epoch,
            body,
        };
        let (sm, next) = self.groups.get_mut(&group).unwrap();
        let index = *next;
        *next += 1;
        let entry = EntryOf::<DataTypes> {
            log_id: openraft::testing::log_id::<DataTypes>(1, 1, index),
            payload: EntryPayload::Normal(cmd),
        };
        let items: Vec<Result<_, io::Error>> = vec![Ok((entry, None))];
        sm.apply(stream::iter(items)).await.unwrap();
        index
    }

    /// Starts the groups splits created, from their records, as the node would.
    fn follow_events(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            match event {
                RangeEvent::Split { child, .. } => {
                    let record = self.ks.record(child).unwrap().expect("the split's record");
                    let events = Some(self.events_tx.clone());
                    let sm = GroupStateMachine::open_with_events(
                        self.ks.clone(),
                        child,
                        &record.range,
                        events,
                    );
                    let next = record.applied.map_or(0, |l| l.index) + 1;
                    self.groups.insert(child, (sm.unwrap(), next));
                }
                RangeEvent::Merged { source, .. } => {
                    self.groups.remove(&source);
                }
            }
        }
    }

    async fn split(&mut self, group: GroupId, at: &[u8], child: GroupId) {
        let body = CommandBody::Change(RangeChange::Split {
            at: Bytes::copy_from_slice(at),
            child_range: child,
            child_group: child,
        });
        self.apply(group, body).await;
        self.follow_events();
    }

    /// Merges `source` into its left neighbour `target`: freeze, then merge.
    async fn merge(&mut self, target: GroupId, source: GroupId) {
        let frozen_at = self
            .apply(source, CommandBody::Change(RangeChange::Freeze))
            .await;
        let source = self.range(source);
        self.apply(
            target,
            CommandBody::Change(RangeChange::Merge { source, frozen_at }),
        )
        .await;
        self.follow_events();
    }

    fn ranges(&self) -> Vec<RangeDesc> {
        let mut ranges: Vec<RangeDesc> = self.groups.keys().map(|g| self.range(*g)).collect();
        ranges.sort_by(|a, b| a.start.cmp(&b.start));
        ranges
    }

    fn group_of(&self, key: &[u8]) -> GroupId {
        let at = storage_key(0, key);
        let holding: Vec<GroupId> = self
            .ranges()
            .iter()
            .filter(|r| r.contains(&at))
            .map(|r| r.group)
            .collect();
        assert_eq!(holding.len(), 1, "exactly one range holds {key:?}");
        holding[0]
    }

    async fn write(&mut self, key: &[u8], value: &[u8]) {
        let group = self.group_of(key);
        let op = Op::Set(Set {
            key: Bytes::from(storage_key(0, key)),
            value: Bytes::copy_from_slice(value),
            cond: SetCond::Always,
            get: false,
            expiry: Expiry::Clear,
            reply: SetReply::Ok,
        });
        self.apply(group, CommandBody::Ops(vec![op].into())).await;
    }

    fn value(&self, key: &[u8]) -> Option<Vec<u8>> {
        let raw = self.ks.data.get(storage_key(0, key)).unwrap();
        raw.and_then(|v| StoredValue::decode(&v))
            .map(|v| v.payload.to_vec())
    }

    /// The ranges tile the table, epochs only grow, every key reads as the model says,
    /// and each range counts at least its bytes (a blind write may count a key twice
    /// until the range is recounted).
    fn check(&self, model: &HashMap<Vec<u8>, Vec<u8>>, epochs: &mut HashMap<GroupId, u64>) {
        let ranges = self.ranges();
        assert_eq!(ranges.first().unwrap().start, table_start(0));
        assert_eq!(ranges.last().unwrap().end, table_end(0));
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "ranges tile the table");
        }
        for r in &ranges {
            let before = epochs.insert(r.group, r.epoch).unwrap_or(0);
            assert!(r.epoch >= before, "an epoch went back");
            let mut bytes = 0;
            for kv in self.ks.data.range(r.start.clone()..r.end.clone()) {
                let (k, v) = kv.into_inner().unwrap();
                bytes += (k.len() + v.len()) as u64;
            }
            let record = self.ks.record(r.group).unwrap().unwrap();
            assert!(
                record.bytes >= bytes,
                "range {} counts {} of {bytes} bytes",
                r.group,
                record.bytes,
            );
        }
        for (k, v) in model {
            assert_eq!(self.value(k).as_ref(), Some(v), "key {k:?}");
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    Write(u8, u8),
    Split(u8),
    Merge(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (any::<u8>(), any::<u8>()).prop_map(|(k, v)| Step::Write(k, v)),
        2 => any::<u8>().prop_map(Step::Split),
        1 => any::<u8>().prop_map(Step::Merge),
    ]
}

fn key_of(k: u8) -> Vec<u8> {
    format!("k{k:03}").into_bytes()
}

async fn run(steps: Vec<Step>) {
    let dir = TempDir::new().unwrap();
    let mut node = Node::open(&dir);
    let mut model = HashMap::new();
    let mut epochs = HashMap::new();
    let mut next_group = 2;
    for step in steps {
        match step {
            Step::Write(k, v) => {
                let (key, value) = (key_of(k), vec![v; 1 + usize::from(v % 7)]);
                node.write(&key, &value).await;
                model.insert(key, value);
            }
            Step::Split(k) => {
                let at = storage_key(0, &key_of(k));
                let group = node.group_of(&key_of(k));
                if node.range(group).start == at {
                    continue; // A range starts there: not strictly inside.
                }
                node.split(group, &at, next_group).await;
                assert_eq!(node.range(next_group).start, at);
                next_group += 1;
            }
            Step::Merge(g) => {
                let ranges = node.ranges();
                if ranges.len() < 2 {
                    continue;
                }
                let i = 1 + usize::from(g) % (ranges.len() - 1);
                let (target, source) = (ranges[i - 1].group, ranges[i].group);
                node.merge(target, source).await;
                assert!(node.ks.record(source).unwrap().is_none(), "absorbed");
            }
        }
        node.check(&model, &mut epochs);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_splits_merges_and_writes_keep_every_key(steps in prop::collection::vec(step(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(steps));
    }
}

#[tokio::test]
async fn a_split_is_refused_under_an_old_epoch_and_outside_the_range() {
    let dir = TempDir::new().unwrap();
    let mut node = Node::open(&dir);
    node.write(b"a", b"1").await;
    node.split(1, &storage_key(0, b"m"), 2).await;
    let parent = node.range(1);
    assert_eq!(parent.epoch, 2);
    assert_eq!(parent.end, storage_key(0, b"m"));
    assert_eq!(node.range(2).epoch, 2, "both halves at the next epoch");
    // Splitting at the child's own start (outside the parent now) changes nothing.
    node.split(1, &storage_key(0, b"m"), 3).await;
    assert!(node.ks.record(3).unwrap().is_none());
    assert_eq!(node.range(1), parent);
    // The child's record starts it where the split left it: applied, same voters.
    let child = node.ks.record(2).unwrap().unwrap();
    assert_eq!(child.applied.map(|l| l.index), Some(2));
}

#[tokio::test]
async fn a_merge_that_was_called_off_is_refused() {
    let dir = TempDir::new().unwrap();
    let mut node = Node::open(&dir);
    node.split(1, &storage_key(0, b"m"), 2).await;
    let frozen_at = node
        .apply(2, CommandBody::Change(RangeChange::Freeze))
        .await;
    node.apply(
        1,
        CommandBody::Change(RangeChange::AbortMerge {
            source: 2,
            frozen_at,
        }),
    )
    .await;
    let source = node.range(2);
    node.apply(
        1,
        CommandBody::Change(RangeChange::Merge { source, frozen_at }),
    )
    .await;
    node.follow_events();
    assert_eq!(node.range(1).end, storage_key(0, b"m"), "not merged");
    node.apply(2, CommandBody::Change(RangeChange::Unfreeze))
        .await;
    assert!(node.ks.record(2).unwrap().unwrap().frozen_at.is_none());
    node.write(b"x", b"after the thaw").await;
    assert_eq!(node.value(b"x"), Some(b"after the thaw".to_vec()));
}

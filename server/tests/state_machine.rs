//! Behaviour of the data group state machine that the conformance suite cannot see:
//! ops inside one apply batch see each other, sequence numbers stay increasing in log
//! order, installing a snapshot replaces exactly the group's range, and a command
//! proposed under another range epoch is refused at apply.

use bytes::Bytes;
use futures::stream;
use openraft::storage::RaftStateMachine;
use openraft::type_config::alias::EntryOf;
use openraft::{EntryPayload, RaftSnapshotBuilder};
use std::io;
use tempfile::TempDir;
use tessera_common::Store;
use tessera_proto::catalog::RangeDesc;
use tessera_proto::commands::expiry::Expiry;
use tessera_proto::commands::keyspace::Del;
use tessera_proto::commands::strings::{Set, SetCond, SetReply};
use tessera_proto::keys::{storage_key, table_end, table_start};
use tessera_proto::op::Op;
use tessera_server::state_machine::{
    expiry_key, CommandBody, DataCommand, DataKeyspaces, GroupStateMachine, Recount,
};
use tessera_server::value::{Seq, StoredValue};
use tessera_server::DataTypes;

fn open(dir: &TempDir) -> (Store, DataKeyspaces) {
    let store = Store::open(dir.path()).unwrap();
    let ks = DataKeyspaces::open(&store.db, store.syncer.clone(), store.snapshots.clone());
    (store, ks.unwrap())
}

async fn apply(sm: &mut GroupStateMachine, index: u64, cmd: DataCommand) {
    let entry = EntryOf::<DataTypes> {
        log_id: openraft::testing::log_id::<DataTypes>(1, 1, index),
        payload: EntryPayload::Normal(cmd),
    };
    let items: Vec<Result<_, io::Error>> = vec![Ok((entry, None))];
    sm.apply(stream::iter(items)).await.unwrap();
}

/// A range of the default table, epoch 1.
fn range(start: Vec<u8>, end: Vec<u8>) -> RangeDesc {
    RangeDesc {
        id: 1,
        table: 0,
        start,
        end,
        epoch: 1,
        group: 1,
    }
}

/// The whole default table.
fn whole() -> RangeDesc {
    range(table_start(0), table_end(0))
}

/// Client ops proposed at `seq` and `now_ms` under epoch 1.
fn ops(seq: Seq, now_ms: u64, ops: Vec<Op>) -> DataCommand {
    DataCommand {
        seq,
        now_ms,
        epoch: 1,
        body: CommandBody::Ops(ops.into()),
    }
}

fn key(k: &[u8]) -> Bytes {
    Bytes::from(storage_key(0, k))
}

/// The expiry-index entry of user key `k` at `at_ms`.
fn index(at_ms: u64, k: &[u8]) -> Bytes {
    Bytes::from(expiry_key(at_ms, &storage_key(0, k)))
}

fn set(key: &[u8], value: &[u8]) -> Op {
    set_expiring(key, value, Expiry::Clear)
}

fn set_expiring(k: &[u8], value: &[u8], expiry: Expiry) -> Op {
    Op::Set(Set {
        key: key(k),
        value: Bytes::copy_from_slice(value),
        cond: SetCond::Always,
        get: false,
        expiry,
        reply: SetReply::Ok,
    })
}

fn stored(ks: &DataKeyspaces, key: &[u8]) -> Option<StoredValue> {
    ks.data
        .get(storage_key(0, key))
        .unwrap()
        .and_then(|v| StoredValue::decode(&v))
}

#[tokio::test]
async fn batch_ops_see_each_other_and_sequences_follow_log_order() {
    let dir = TempDir::new().unwrap();
    let (_store, ks) = open(&dir);
    let mut sm = GroupStateMachine::open(ks.clone(), 1, &whole()).unwrap();
    let del = Op::Del(Del {
        keys: vec![key(b"a"), key(b"b")],
    });
    let cmd = ops(Seq::new(1_000, 0, 1), 1, vec![set(b"a", b"1"), del]);
    apply(&mut sm, 1, cmd).await;
    assert_eq!(
        stored(&ks, b"a"),
        None,
        "the delete saw the set in the same entry"
    );

    // A later entry proposed with a lower sequence (a leader with a lagging clock)
    // still gets a higher one than everything before it.
    let x = ops(Seq::new(2_000, 0, 1), 2, vec![set(b"x", b"1")]);
    apply(&mut sm, 2, x).await;
    let y = ops(Seq::new(500, 0, 2), 3, vec![set(b"y", b"1")]);
    apply(&mut sm, 3, y).await;
    let (x, y) = (stored(&ks, b"x").unwrap(), stored(&ks, b"y").unwrap());
    assert!(y.seq > x.seq, "{:?} must follow {:?}", y.seq, x.seq);
    assert_eq!(sm.applied().max_seq(), y.seq);
}

#[tokio::test]
async fn snapshot_install_replaces_exactly_the_range() {
    let leader_dir = TempDir::new().unwrap();
    let (_leader_store, leader_ks) = open(&leader_dir);
    let (start, end) = (storage_key(0, b"m"), storage_key(0, b"t"));
    let bounds = range(start, end);
    let mut leader = GroupStateMachine::open(leader_ks, 5, &bounds).unwrap();
    let cmd = ops(
        Seq::new(1, 0, 1),
        1,
        vec![set(b"n", b"new"), set(b"p", b"new")],
    );
    apply(&mut leader, 1, cmd).await;
    assert!(
        leader.get_current_snapshot().await.unwrap().is_none(),
        "no snapshot built yet"
    );
    let mut builder = leader.get_snapshot_builder().await;
    let built = builder.build_snapshot().await.unwrap();
    assert!(
        built.snapshot.get_ref().is_empty(),
        "building records the point, copies nothing"
    );
    let snapshot_files: u64 = std::fs::read_dir(leader_dir.path().join("snapshots"))
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        snapshot_files < 200,
        "no copy of the range on disk ({snapshot_files} bytes)"
    );
    // What openraft sends a follower: the current snapshot, read from the range now.
    let snapshot = leader.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(snapshot.meta, built.meta);

    // The follower holds a stale key inside the range and other groups' keys outside it.
    let follower_dir = TempDir::new().unwrap();
    let (_store, ks) = open(&follower_dir);
    for key in [&b"a"[..], b"o", b"z"] {
        ks.data
            .insert(storage_key(0, key), b"old".to_vec())
            .unwrap();
    }
    let mut follower = GroupStateMachine::open(ks.clone(), 5, &bounds).unwrap();
    follower
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .unwrap();

    let raw = |k: &[u8]| ks.data.get(storage_key(0, k)).unwrap().map(|v| v.to_vec());
    assert_eq!(
        raw(b"a"),
        Some(b"old".to_vec()),
        "below the range: untouched"
    );
    assert_eq!(
        raw(b"z"),
        Some(b"old".to_vec()),
        "above the range: untouched"
    );
    assert_eq!(raw(b"o"), None, "inside the range: replaced");
    assert_eq!(stored(&ks, b"n").unwrap().payload, b"new");
    let current = follower.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta.last_log_id, snapshot.meta.last_log_id);
    let (applied, _) = follower.applied_state().await.unwrap();
    assert_eq!(applied, snapshot.meta.last_log_id);
}

#[tokio::test]
async fn expiry_uses_the_entry_clock_and_the_sweep_removes_data_and_index() {
    let dir = TempDir::new().unwrap();
    let (_store, ks) = open(&dir);
    let mut sm = GroupStateMachine::open(ks.clone(), 1, &whole()).unwrap();
    let writes = vec![set_expiring(b"t", b"v", Expiry::In(100)), set(b"p", b"v")];
    apply(&mut sm, 1, ops(Seq::new(1, 0, 1), 1_000, writes)).await;
    assert_eq!(
        stored(&ks, b"t").unwrap().expires_at_ms,
        Some(1_100),
        "leader clock + 100 ms"
    );
    assert!(ks
        .expiry
        .get(expiry_key(1_100, &storage_key(0, b"t")))
        .unwrap()
        .is_some());

    // Too early: nothing is swept.
    let sweep = |now_ms| DataCommand {
        seq: Seq::new(2, 0, 1),
        now_ms,
        epoch: 1,
        // `p` has no expiry: its entry is one a blind write left, dropped on its own.
        body: CommandBody::Sweep(vec![index(1_100, b"t"), index(1_000, b"p")]),
    };
    apply(&mut sm, 2, sweep(1_050)).await;
    assert!(stored(&ks, b"t").is_some());
    apply(&mut sm, 3, sweep(1_100)).await;
    assert_eq!(stored(&ks, b"t"), None, "expired key deleted");
    assert!(stored(&ks, b"p").is_some(), "persistent key kept");
    assert!(ks
        .expiry
        .get(expiry_key(1_100, &storage_key(0, b"t")))
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_blind_set_leaves_an_entry_the_sweep_drops_and_a_recount_fixes_the_bytes() {
    let dir = TempDir::new().unwrap();
    let (_store, ks) = open(&dir);
    let mut sm = GroupStateMachine::open(ks.clone(), 1, &whole()).unwrap();
    let expiring = set_expiring(b"t", b"v", Expiry::In(100));
    apply(&mut sm, 1, ops(Seq::new(1, 0, 1), 1_000, vec![expiring])).await;
    // A plain SET does not read the key: the old expiry's entry stays behind, and the
    // byte count cannot know the key was there.
    let plain = set(b"t", b"a longer value");
    apply(&mut sm, 2, ops(Seq::new(2, 0, 1), 1_010, vec![plain])).await;
    assert_eq!(stored(&ks, b"t").unwrap().expires_at_ms, None);
    assert!(ks.expiry.get(index(1_100, b"t")).unwrap().is_some());
    let actual = (storage_key(0, b"t").len() + 25 + b"a longer value".len()) as u64;
    let record = ks.record(1).unwrap().unwrap();
    assert!(record.bytes > actual, "counted twice: {}", record.bytes);

    let sweep = DataCommand {
        body: CommandBody::Sweep(vec![index(1_100, b"t")]),
        ..ops(Seq::new(3, 0, 1), 1_100, Vec::new())
    };
    apply(&mut sm, 3, sweep).await;
    assert_eq!(stored(&ks, b"t").unwrap().payload, b"a longer value");
    assert!(ks.expiry.get(index(1_100, b"t")).unwrap().is_none());

    // A write after the count keeps its bytes; the count replaces what came before.
    let seen = Recount {
        applied: 2,
        bytes: record.bytes,
        unsure: record.unsure,
        actual,
    };
    apply(
        &mut sm,
        4,
        ops(Seq::new(4, 0, 1), 1_200, vec![set(b"u", b"1")]),
    )
    .await;
    let recount = |seq| DataCommand {
        body: CommandBody::Recount(seen),
        ..ops(Seq::new(seq, 0, 1), 1_200, Vec::new())
    };
    apply(&mut sm, 5, recount(5)).await;
    let record = ks.record(1).unwrap().unwrap();
    let u = (storage_key(0, b"u").len() + 25 + 1) as u64;
    assert_eq!(record.bytes, actual + u);
    assert_eq!(record.unsure, u, "only the write after the count is unsure");
    // The same count proposed again (by a new leader that had not applied the first
    // one yet) is older than the recount it repeats: nothing changes.
    apply(&mut sm, 6, recount(6)).await;
    let again = ks.record(1).unwrap().unwrap();
    assert_eq!((again.bytes, again.unsure), (record.bytes, record.unsure));
}

#[tokio::test]
async fn deleting_a_blind_write_in_the_same_batch_counts_what_it_replaced() {
    let dir = TempDir::new().unwrap();
    let (_store, ks) = open(&dir);
    let mut sm = GroupStateMachine::open(ks.clone(), 1, &whole()).unwrap();
    let expiring = set_expiring(b"k", &[7; 1_000], Expiry::In(100));
    apply(&mut sm, 1, ops(Seq::new(1, 0, 1), 1_000, vec![expiring])).await;
    let del = Op::Del(Del {
        keys: vec![key(b"k")],
    });
    let batch = vec![set(b"k", b"short"), del];
    apply(&mut sm, 2, ops(Seq::new(2, 0, 1), 1_010, batch)).await;
    assert_eq!(stored(&ks, b"k"), None);
    let record = ks.record(1).unwrap().unwrap();
    assert_eq!(
        record.bytes, 0,
        "the replaced kilobyte is not counted any more"
    );
    assert!(ks.expiry.get(index(1_100, b"k")).unwrap().is_none());
}

#[tokio::test]
async fn a_command_proposed_under_another_epoch_is_refused_at_apply() {
    let dir = TempDir::new().unwrap();
    let (_store, ks) = open(&dir);
    let mut sm = GroupStateMachine::open(ks.clone(), 1, &whole()).unwrap();
    let stale = DataCommand {
        epoch: 7,
        ..ops(Seq::new(1, 0, 1), 1, vec![set(b"a", b"1")])
    };
    apply(&mut sm, 1, stale).await;
    assert_eq!(stored(&ks, b"a"), None, "nothing applied");
    let (applied, _) = sm.applied_state().await.unwrap();
    assert_eq!(
        applied.map(|l| l.index),
        Some(1),
        "the entry still counts as applied"
    );
}

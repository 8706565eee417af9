//! Behaviour of the data group state machine that the conformance suite cannot see:
//! ops inside one apply batch see each other, sequence numbers stay increasing in log
//! order, and installing a snapshot replaces exactly the group's range.

use futures::stream;
use openraft::storage::RaftStateMachine;
use openraft::type_config::alias::EntryOf;
use openraft::{EntryPayload, RaftSnapshotBuilder};
use std::io;
use tempfile::TempDir;
use tessera_common::Store;
use tessera_meta::catalog::{storage_key, table_end, table_start};
use tessera_server::ops::{Expiry, SetCond, SetReply};
use tessera_server::state_machine::expiry_key;
use tessera_server::state_machine::{DataCommand, DataKeyspaces, GroupStateMachine};
use tessera_server::value::{Seq, StoredValue};
use tessera_server::{DataTypes, Op, OpResult};

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

fn set(key: &[u8], value: &[u8]) -> Op {
    set_expiring(key, value, Expiry::Clear)
}

fn set_expiring(key: &[u8], value: &[u8], expiry: Expiry) -> Op {
    Op::Set {
        key: storage_key(0, key),
        value: value.to_vec(),
        cond: SetCond::Always,
        get: false,
        expiry,
        reply: SetReply::Ok,
    }
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
    let mut sm = GroupStateMachine::open(ks.clone(), 1, &table_start(0), &table_end(0)).unwrap();
    let cmd = DataCommand {
        seq: Seq::new(1_000, 0, 1),
        now_ms: 1,
        ops: vec![
            set(b"a", b"1"),
            Op::Del {
                keys: vec![storage_key(0, b"a"), storage_key(0, b"b")],
            },
        ],
    };
    apply(&mut sm, 1, cmd).await;
    assert_eq!(
        stored(&ks, b"a"),
        None,
        "the delete saw the set in the same entry"
    );

    // A later entry proposed with a lower sequence (a leader with a lagging clock)
    // still gets a higher one than everything before it.
    apply(
        &mut sm,
        2,
        DataCommand {
            seq: Seq::new(2_000, 0, 1),
            now_ms: 2,
            ops: vec![set(b"x", b"1")],
        },
    )
    .await;
    apply(
        &mut sm,
        3,
        DataCommand {
            seq: Seq::new(500, 0, 2),
            now_ms: 3,
            ops: vec![set(b"y", b"1")],
        },
    )
    .await;
    let (x, y) = (stored(&ks, b"x").unwrap(), stored(&ks, b"y").unwrap());
    assert!(y.seq > x.seq, "{:?} must follow {:?}", y.seq, x.seq);
    assert_eq!(*sm.max_seq().lock().unwrap(), y.seq);
}

#[tokio::test]
async fn snapshot_install_replaces_exactly_the_range() {
    let leader_dir = TempDir::new().unwrap();
    let (_leader_store, leader_ks) = open(&leader_dir);
    let (start, end) = (storage_key(0, b"m"), storage_key(0, b"t"));
    let mut leader = GroupStateMachine::open(leader_ks, 5, &start, &end).unwrap();
    let cmd = DataCommand {
        seq: Seq::new(1, 0, 1),
        now_ms: 1,
        ops: vec![set(b"n", b"new"), set(b"p", b"new")],
    };
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
    let mut follower = GroupStateMachine::open(ks.clone(), 5, &start, &end).unwrap();
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
    let mut sm = GroupStateMachine::open(ks.clone(), 1, &table_start(0), &table_end(0)).unwrap();
    let ops = vec![set_expiring(b"t", b"v", Expiry::In(100)), set(b"p", b"v")];
    apply(
        &mut sm,
        1,
        DataCommand {
            seq: Seq::new(1, 0, 1),
            now_ms: 1_000,
            ops,
        },
    )
    .await;
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
        ops: vec![Op::SweepExpired {
            keys: vec![storage_key(0, b"t"), storage_key(0, b"p")],
        }],
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
    let _ = OpResult::Ok;
}

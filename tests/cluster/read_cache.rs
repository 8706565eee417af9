//! The storage nodes' point-read cache under concurrent writes: a GET never returns a
//! value older than one acknowledged before it was sent, a reader never sees a key go
//! back, and a pipeline of GETs to one range reading the keys of an `MSET` (one of them
//! twice) sees each at least as new as the one before (a range's reads of one batch
//! behave as if run one after the other, and its batches run one after the other).

use crate::harness::TestCluster;
use redis::AsyncCommands;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera::dev::DevOptions;

const KEYS: usize = 4;
const WRITES: i64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_gets_are_never_stale_under_concurrent_writes() {
    // One range, never split by this load: the guarantees checked are those of one
    // group (reads of keys in different ranges of a pipeline run concurrently).
    let cluster = TestCluster::start_options(DevOptions {
        split_qps: 0.0,
        ..Default::default()
    })
    .await;
    let acked: Arc<Vec<AtomicI64>> = Arc::new((0..KEYS).map(|_| AtomicI64::new(-1)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let mut writer = cluster.client().await;
    let writing = tokio::spawn({
        let (acked, done) = (acked.clone(), done.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            for i in 0..WRITES {
                if Instant::now() > deadline {
                    break;
                }
                let k = i as usize % KEYS;
                let _: () = writer.set(format!("c{k}"), i).await.unwrap();
                acked[k].store(i, Ordering::SeqCst);
                // Both keys of one MSET (one Raft entry, applied at once).
                let _: () = writer.mset(&[("pa", i), ("pb", i)]).await.unwrap();
            }
            done.store(true, Ordering::SeqCst);
        }
    });
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut con = cluster.client().await;
        let (acked, done) = (acked.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut last = [-1i64; KEYS];
            let mut checked = 0u64;
            let deadline = Instant::now() + Duration::from_secs(60);
            while !(done.load(Ordering::SeqCst) && checked > 0) && Instant::now() < deadline {
                let floor: Vec<i64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
                let mut pipe = redis::pipe();
                for k in 0..KEYS {
                    pipe.get(format!("c{k}"));
                }
                pipe.get("pa").get("pb").get("pa");
                let got: Vec<Option<i64>> = pipe.query_async(&mut con).await.unwrap();
                for k in 0..KEYS {
                    let v = got[k].unwrap_or(-1);
                    assert!(
                        v >= floor[k],
                        "c{k}: read {v}, {} was acknowledged before",
                        floor[k]
                    );
                    assert!(v >= last[k], "c{k}: read {v} after {}", last[k]);
                    last[k] = v;
                }
                // pa and pb only ever change together: read in this order, each is
                // at least as new as the one before.
                let (a, b, again) = (
                    got[KEYS].unwrap_or(-1),
                    got[KEYS + 1].unwrap_or(-1),
                    got[KEYS + 2].unwrap_or(-1),
                );
                assert!(a <= b && b <= again, "pa {a}, then pb {b}, then pa {again}");
                checked += 1;
            }
            checked
        }));
    }
    writing.await.unwrap();
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    assert_eq!(cluster.catalog().await.ranges.len(), 1, "no split happened");
}

//! Client load for the multi-process tests: writers that record every acknowledged
//! write, and checks that none was lost.

use crate::harness::{connect, wait_for};
use redis::AsyncCommands;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Writers that keep setting keys until stopped; every acknowledged key is recorded.
pub struct Load {
    stop: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<Vec<(String, u64)>>>,
}

impl Load {
    pub fn start(url: &str, clients: usize, prefix: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let tasks = (0..clients)
            .map(|c| {
                let (url, stop, errors) = (url.to_string(), stop.clone(), errors.clone());
                let prefix = format!("{prefix}{c}:");
                tokio::spawn(async move {
                    let mut con = connect(&url).await;
                    let mut acked = Vec::new();
                    // Bounded: at most 100,000 writes per client.
                    for i in 0..100_000u64 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let key = format!("{prefix}{i}");
                        match con.set::<_, _, ()>(&key, i).await {
                            Ok(()) => acked.push((key, i)),
                            Err(e) => {
                                eprintln!("write {key} failed: {e}");
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    acked
                })
            })
            .collect();
        Self {
            stop,
            errors,
            tasks,
        }
    }

    /// Stops the writers; returns the acknowledged writes and the failed count.
    pub async fn finish(self) -> (Vec<(String, u64)>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let mut acked = Vec::new();
        for task in self.tasks {
            acked.extend(task.await.unwrap());
        }
        (acked, self.errors.load(Ordering::Relaxed))
    }
}

pub async fn assert_all_readable(
    con: &mut redis::aio::MultiplexedConnection,
    acked: &[(String, u64)],
) {
    for chunk in acked.chunks(500) {
        let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
        let values: Vec<Option<u64>> = con.mget(&keys).await.unwrap();
        for ((key, want), got) in chunk.iter().zip(values) {
            assert_eq!(got, Some(*want), "acknowledged write of {key} lost");
        }
    }
}

/// Waits until the database holds at least `n` keys (the writers got going).
pub async fn wait_keys(con: &redis::aio::MultiplexedConnection, n: usize) {
    wait_for(Duration::from_secs(20), "some writes", || {
        let mut con = con.clone();
        async move {
            let size: usize = redis::cmd("DBSIZE").query_async(&mut con).await.ok()?;
            (size >= n).then_some(())
        }
    })
    .await;
}

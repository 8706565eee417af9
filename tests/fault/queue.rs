//! A queue under faults: producers `LPUSH` unique tokens onto one list while consumers
//! take them with `BRPOP`, and the check is that no element is delivered twice, none
//! appears from nowhere, and every acknowledged push was delivered or is still queued,
//! except at most one per consumer call whose outcome is unknown (a pop whose reply was
//! lost may have taken an element, as in Redis).

use crate::workload::reconnect;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The queue's key.
pub const QUEUE: &str = "queue:0";

/// What the producers and consumers saw.
#[derive(Default, Debug)]
pub struct QueueLog {
    /// Tokens whose push was acknowledged.
    pub pushed: Vec<u64>,
    /// Tokens whose push has an unknown outcome.
    pub maybe_pushed: Vec<u64>,
    /// Tokens delivered to a consumer, in delivery order.
    pub popped: Vec<u64>,
    /// Consumer calls with an unknown outcome (each may have taken one element).
    pub unknown_pops: usize,
}

/// Running producers and consumers.
pub struct Queue {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    log: Arc<Mutex<QueueLog>>,
}

impl Queue {
    /// Starts `producers` and `consumers` against the router at `url`.
    pub fn start(url: &str, producers: u64, consumers: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(QueueLog::default()));
        let mut tasks = Vec::new();
        for p in 0..producers {
            let (url, stop, log) = (url.to_string(), stop.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                // Bounded: 5,000 pushes per producer, about 200 a second.
                let mut n = 0u64;
                while n < 5_000 && !stop.load(Ordering::Relaxed) {
                    let Some(mut con) = reconnect(&url, &stop).await else {
                        break;
                    };
                    while n < 5_000 && !stop.load(Ordering::Relaxed) {
                        let token = (1 << 62) | (p << 32) | n;
                        n += 1;
                        let r: redis::RedisResult<i64> = redis::cmd("LPUSH")
                            .arg(QUEUE)
                            .arg(token)
                            .query_async(&mut con)
                            .await;
                        let ok = r.is_ok();
                        {
                            let mut log = log.lock().unwrap();
                            if ok {
                                log.pushed.push(token);
                            } else {
                                log.maybe_pushed.push(token);
                            }
                        }
                        if !ok {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }));
        }
        for _ in 0..consumers {
            let (url, stop, log) = (url.to_string(), stop.clone(), log.clone());
            tasks.push(tokio::spawn(async move {
                // Bounded: 20,000 calls per consumer.
                let mut calls = 0;
                while calls < 20_000 && !stop.load(Ordering::Relaxed) {
                    let Some(mut con) = reconnect(&url, &stop).await else {
                        break;
                    };
                    while calls < 20_000 && !stop.load(Ordering::Relaxed) {
                        calls += 1;
                        let r: redis::RedisResult<Option<(String, u64)>> = redis::cmd("BRPOP")
                            .arg(QUEUE)
                            .arg(1)
                            .query_async(&mut con)
                            .await;
                        let mut log = log.lock().unwrap();
                        match r {
                            Ok(Some((_, token))) => log.popped.push(token),
                            Ok(None) => {}
                            Err(_) => {
                                log.unknown_pops += 1;
                                break;
                            }
                        }
                    }
                }
            }));
        }
        Self { stop, tasks, log }
    }

    /// Stops the producers and consumers and returns what they saw.
    pub async fn finish(self) -> QueueLog {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("queue task");
        }
        Arc::try_unwrap(self.log)
            .expect("queue tasks stopped")
            .into_inner()
            .unwrap()
    }
}

/// The elements still queued, read once the cluster has healed.
pub async fn remaining(url: &str) -> Vec<u64> {
    let mut con = crate::harness::connect(url).await;
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let r: redis::RedisResult<Vec<u64>> = redis::cmd("LRANGE")
            .arg(QUEUE)
            .arg(0)
            .arg(-1)
            .query_async(&mut con)
            .await;
        match r {
            Ok(items) => return items,
            Err(e) => assert!(Instant::now() < until, "final read of the queue: {e}"),
        }
    }
}

/// Checks a queue's history: nothing delivered twice or from nowhere, nothing
/// acknowledged lost beyond what unknown pops may have taken.
pub fn check_queue(log: &QueueLog, remaining: &[u64]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for token in log.popped.iter().chain(remaining) {
        if !seen.insert(*token) {
            return Err(format!("element {token} was delivered or queued twice"));
        }
    }
    let pushed: HashSet<u64> = log
        .pushed
        .iter()
        .chain(&log.maybe_pushed)
        .copied()
        .collect();
    if let Some(t) = seen.iter().find(|t| !pushed.contains(t)) {
        return Err(format!("element {t} was never pushed"));
    }
    let lost: Vec<u64> = log
        .pushed
        .iter()
        .filter(|t| !seen.contains(t))
        .copied()
        .collect();
    if lost.len() > log.unknown_pops {
        return Err(format!(
            "{} acknowledged elements were neither delivered nor queued, and only {} pops \
             had an unknown outcome: {:?}",
            lost.len(),
            log.unknown_pops,
            &lost[..lost.len().min(10)]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_check_finds_duplicates_and_losses() {
        let log = QueueLog {
            pushed: vec![1, 2, 3],
            maybe_pushed: vec![4],
            popped: vec![1, 4],
            unknown_pops: 0,
        };
        assert_eq!(check_queue(&log, &[2, 3]), Ok(()));
        assert!(check_queue(&log, &[2]).is_err(), "3 lost");
        assert!(check_queue(&log, &[2, 3, 1]).is_err(), "1 twice");
        assert!(check_queue(&log, &[2, 3, 9]).is_err(), "9 from nowhere");
        let unknown = QueueLog {
            unknown_pops: 1,
            ..log
        };
        assert_eq!(check_queue(&unknown, &[2]), Ok(()));
    }
}

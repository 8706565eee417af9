//! Concurrent clients that record a history: reads and writes of a few registers
//! (`GET`/`SET` of unique values), appends of unique tokens to a few string "lists"
//! (`APPEND key "token,"`, read whole with `GET`) and pushes of unique tokens to a few
//! Redis lists (`RPUSH`, read whole with `LRANGE 0 -1`); both kinds of list are checked
//! the same way. A client whose operation has an unknown outcome retires; a fresh
//! client (new id, new connection) takes its place.

use crate::checker::{Kind, ListOp, Op, Outcome};
use crate::harness::connect;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Registers and lists the workload touches: `LISTS` string lists (`APPEND`), then as
/// many Redis lists (`RPUSH`).
pub const REGISTERS: usize = 6;
pub const LISTS: usize = 3;
const ALL_LISTS: usize = 2 * LISTS;

/// A small deterministic generator (xorshift64*), seeded per client.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn register_key(i: usize) -> String {
    format!("reg:{i}")
}

pub fn list_key(i: usize) -> String {
    if is_pushed(i) {
        format!("rlist:{i}")
    } else {
        format!("list:{i}")
    }
}

/// Whether list `i` is a Redis list (`RPUSH`) rather than a string (`APPEND`).
fn is_pushed(i: usize) -> bool {
    i >= LISTS
}

/// Reads list `i` whole: its tokens, in order.
async fn read_list(
    con: &mut redis::aio::MultiplexedConnection,
    i: usize,
) -> redis::RedisResult<Vec<u64>> {
    if is_pushed(i) {
        let items: Vec<u64> = redis::cmd("LRANGE")
            .arg(list_key(i))
            .arg(0)
            .arg(-1)
            .query_async(con)
            .await?;
        Ok(items)
    } else {
        let value: Option<Vec<u8>> = redis::cmd("GET").arg(list_key(i)).query_async(con).await?;
        Ok(tokens(&value.unwrap_or_default()))
    }
}

/// Parses a list value `"t1,t2,"` into tokens.
pub fn tokens(value: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(value)
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().expect("token"))
        .collect()
}

/// What the clients recorded.
#[derive(Default)]
pub struct History {
    pub registers: Vec<Op>,
    pub lists: Vec<Vec<ListOp>>,
    pub attempted: usize,
    pub acknowledged: usize,
    pub indeterminate: usize,
}

/// Running clients.
pub struct Workload {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    history: Arc<Mutex<History>>,
    pub epoch: Instant,
}

impl Workload {
    /// Starts `clients` clients against the router at `url`.
    pub fn start(url: &str, clients: usize, seed: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let history = Arc::new(Mutex::new(History {
            lists: vec![Vec::new(); ALL_LISTS],
            ..History::default()
        }));
        let next_id = Arc::new(AtomicUsize::new(clients));
        let epoch = Instant::now();
        let tasks = (0..clients)
            .map(|slot| {
                let (url, stop, history) = (url.to_string(), stop.clone(), history.clone());
                let next_id = next_id.clone();
                tokio::spawn(async move {
                    let mut id = slot;
                    let mut rng = Rng::new(seed ^ ((slot as u64 + 1) * 7919));
                    // Bounded: at most 20,000 operations per slot.
                    let mut budget = 20_000;
                    while !stop.load(Ordering::Relaxed) && budget > 0 {
                        let Some(mut con) = reconnect(&url, &stop).await else {
                            break;
                        };
                        // Runs until an operation's outcome is unknown, then retires.
                        while !stop.load(Ordering::Relaxed) && budget > 0 {
                            budget -= 1;
                            let fine = one_op(&mut con, id, &mut rng, epoch, &history).await;
                            if !fine {
                                break;
                            }
                        }
                        id = next_id.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        Self {
            stop,
            tasks,
            history,
            epoch,
        }
    }

    /// Stops the clients and returns the history.
    pub async fn finish(self) -> History {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("client task");
        }
        Arc::try_unwrap(self.history)
            .ok()
            .expect("clients stopped")
            .into_inner()
            .unwrap()
    }
}

/// A new connection to the router, retrying while it restarts; `None` once stopped.
pub async fn reconnect(url: &str, stop: &AtomicBool) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).expect("url");
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(Duration::from_secs(30)))
        .set_connection_timeout(Some(Duration::from_secs(5)));
    // Bounded: the router is back within a minute or the scenario fails anyway.
    for _ in 0..600 {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        if let Ok(con) = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            return Some(con);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn micros(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// Adds a finished operation to the history.
type Recorder = Box<dyn FnOnce(&mut History, Outcome, u64) + Send>;

/// How a write ended: acknowledged now, or unknown (it may still take effect).
fn write_end<T>(result: &redis::RedisResult<T>, epoch: Instant) -> (Outcome, u64) {
    match result {
        Ok(_) => (Outcome::Ok, micros(epoch)),
        Err(_) => (Outcome::Unknown, u64::MAX),
    }
}

/// Runs one random operation and records it; `false` if the client must retire (an
/// unknown outcome, or a failed read, which is simply dropped).
async fn one_op(
    con: &mut redis::aio::MultiplexedConnection,
    client: usize,
    rng: &mut Rng,
    epoch: Instant,
    history: &Mutex<History>,
) -> bool {
    let choice = rng.below(10);
    let invoked = micros(epoch);
    let unique = ((client as u64) << 32) | (rng.next() & 0xffff_ffff);
    let register = register_key(rng.below(REGISTERS as u64) as usize);
    let list = rng.below(ALL_LISTS as u64) as usize;
    // (outcome, completed, what to record) — `None` for a failed read.
    let (ended, record): (Option<(Outcome, u64)>, Recorder) = match choice {
        0..=2 => {
            let r: redis::RedisResult<()> = redis::cmd("SET")
                .arg(&register)
                .arg(unique)
                .query_async(con)
                .await;
            let record = Box::new(move |h: &mut History, outcome, completed| {
                h.registers.push(Op {
                    client,
                    key: register,
                    kind: Kind::Write(unique),
                    outcome,
                    invoked,
                    completed,
                })
            });
            (Some(write_end(&r, epoch)), record)
        }
        3..=5 => {
            let r: redis::RedisResult<Option<u64>> =
                redis::cmd("GET").arg(&register).query_async(con).await;
            let ended = r.as_ref().ok().map(|_| (Outcome::Ok, micros(epoch)));
            let value = r.unwrap_or_default();
            let record = Box::new(move |h: &mut History, outcome, completed| {
                h.registers.push(Op {
                    client,
                    key: register,
                    kind: Kind::Read(value),
                    outcome,
                    invoked,
                    completed,
                })
            });
            (ended, record)
        }
        6..=8 => {
            let r: redis::RedisResult<i64> = if is_pushed(list) {
                redis::cmd("RPUSH")
                    .arg(list_key(list))
                    .arg(unique)
                    .query_async(con)
                    .await
            } else {
                redis::cmd("APPEND")
                    .arg(list_key(list))
                    .arg(format!("{unique},"))
                    .query_async(con)
                    .await
            };
            let record = Box::new(move |h: &mut History, outcome, completed| {
                h.lists[list].push(ListOp::Append {
                    token: unique,
                    outcome,
                    invoked,
                    completed,
                })
            });
            (Some(write_end(&r, epoch)), record)
        }
        _ => {
            let r = read_list(con, list).await;
            let ended = r.as_ref().ok().map(|_| (Outcome::Ok, micros(epoch)));
            let seen = r.unwrap_or_default();
            let record = Box::new(move |h: &mut History, _, completed| {
                h.lists[list].push(ListOp::Read {
                    tokens: seen,
                    invoked,
                    completed,
                })
            });
            (ended, record)
        }
    };
    let mut h = history.lock().unwrap();
    h.attempted += 1;
    match ended {
        Some((outcome, completed)) => {
            match outcome {
                Outcome::Ok => h.acknowledged += 1,
                Outcome::Unknown => h.indeterminate += 1,
            }
            record(&mut h, outcome, completed);
            outcome == Outcome::Ok
        }
        None => false,
    }
}

/// Reads every register and list once more after the faults healed (retrying until
/// the cluster answers), adds the register reads to the history and returns the final
/// lists.
pub async fn final_reads(url: &str, history: &mut History, epoch: Instant) -> Vec<Vec<u64>> {
    let mut con = connect(url).await;
    let until = Instant::now() + Duration::from_secs(60);
    for i in 0..REGISTERS {
        let key = register_key(i);
        loop {
            let invoked = micros(epoch);
            match redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<u64>>(&mut con)
                .await
            {
                Ok(value) => {
                    history.registers.push(Op {
                        client: usize::MAX,
                        key: key.clone(),
                        kind: Kind::Read(value),
                        outcome: Outcome::Ok,
                        invoked,
                        completed: micros(epoch),
                    });
                    break;
                }
                Err(e) => assert!(Instant::now() < until, "final read of {key}: {e}"),
            }
        }
    }
    let mut lists = Vec::new();
    for i in 0..ALL_LISTS {
        loop {
            match read_list(&mut con, i).await {
                Ok(tokens) => {
                    lists.push(tokens);
                    break;
                }
                Err(e) => assert!(Instant::now() < until, "final read of list {i}: {e}"),
            }
        }
    }
    lists
}

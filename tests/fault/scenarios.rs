//! The fault scenarios: a cluster of real processes (3 meta members, 5 storage nodes
//! each in its own network namespace, a router), concurrent clients recording a
//! history, faults for `TESSERA_FAULT_SECS` (default 20) seconds, healing, final reads
//! and the checkers' verdict. `TESSERA_FAULT_SEED` fixes the random choices.

use crate::checker::{check_appends, check_register};
use crate::cluster::{Cluster, Shape};
use crate::harness::{test_dir, wait_for, wait_serving};
use crate::queue::{check_queue, remaining, Queue};
use crate::reshape;
use crate::workload::{final_reads, Rng, Workload, LISTS};
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use tessera_proto::catalog::NodeId;

/// Scenarios run one at a time: each starts nine processes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Longer than a follower waits before electing (lease + longest timeout, 1.2 s).
const PAUSE: Duration = Duration::from_millis(1600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// 1: the group leader cut off from both followers, healed, repeatedly.
    LeaderPartition,
    /// 2: the nodes split 2/3, then a ring where each node sees only its neighbours.
    Bisect,
    /// 3: the leader SIGSTOPped past the point where followers elect, then SIGCONT.
    Pause,
    /// 4: SIGKILL of a random node and of the current leader in turn, each restarted.
    KillLoop,
    /// 5: SIGKILL of every process at once, then a restart of all.
    KillAll,
    /// 6: the leader isolated from the other nodes, and the only node reaching meta.
    Island,
    /// 7: a group member decommissioned, a new node joining, members killed past
    /// `--dead-after` (replicas replaced) and restarted, all while writing.
    Churn,
    /// 8: a follower down while the leader snapshots and purges its log, then back.
    FollowerPurge,
    /// 9: the meta leader killed, paused or partitioned from the other members,
    /// repeatedly, while tables are created and dropped.
    MetaChurn,
    /// 10: every link to the nodes delayed 50±50 ms, one chunk in ten by 200 ms more.
    Slow,
    /// 11: scenario 1 plus clients sending malformed and oversized requests.
    Garbage,
    /// 12: splits and merges while nodes are partitioned, paused and killed.
    Reshape,
    /// 13: splits and merges while leaders are shuffled and replicas move (a node
    /// drains, a new one joins).
    ReshapeShuffle,
}

fn fault_time() -> Duration {
    let secs = std::env::var("TESSERA_FAULT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(secs)
}

fn seed() -> u64 {
    std::env::var("TESSERA_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261121)
}

/// Runs `scenario` end to end and asserts the checkers' verdict.
pub async fn run(scenario: Scenario) {
    let _serial = SERIAL.lock().await;
    let seed = seed();
    eprintln!("scenario {scenario:?}: seed {seed} (set TESSERA_FAULT_SEED to replay)");
    let dir = test_dir();
    let mut node_flags = vec!["--heartbeat-interval".to_string(), "250ms".into()];
    if scenario == Scenario::FollowerPurge {
        node_flags.extend(["--snapshot-every", "200", "--keep-logs", "20"].map(String::from));
    }
    let shape = Shape {
        meta: 3,
        nodes: 5,
        meta_flags: vec!["--dead-after".into(), "4s".into()],
        node_flags,
        namespaces: true,
        proxied: scenario == Scenario::Slow,
        // Churn: node 5 joins during the faults.
        held_back: usize::from(matches!(
            scenario,
            Scenario::Churn | Scenario::ReshapeShuffle
        )),
    };
    let mut cluster = Cluster::start(dir.path(), shape);
    let url = cluster.url();
    wait_serving(&url, Duration::from_secs(60)).await;
    let (group, _) = cluster.default_group().await;
    let workload = Workload::start(&url, 6, seed);
    let queue = Queue::start(&url, 2, 2);
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    eprintln!(
        "scenario {scenario:?}: workload epoch at unix {:.3}",
        wall.as_secs_f64()
    );
    let tables = (scenario == Scenario::MetaChurn)
        .then(|| tokio::spawn(table_churn(url.clone(), fault_time())));
    let reshaping = matches!(scenario, Scenario::Reshape | Scenario::ReshapeShuffle);
    let reshapes = reshaping.then(|| tokio::spawn(reshape::churn(url.clone(), fault_time(), seed)));
    let garbage = (scenario == Scenario::Garbage).then(|| {
        let addr = cluster.router.addr;
        std::thread::spawn(move || send_garbage(addr, fault_time()))
    });
    let mut rng = Rng::new(seed);
    let until = Instant::now() + fault_time();
    inject(&mut cluster, scenario, group, &mut rng, until).await;
    heal_everything(&mut cluster);
    if let Some(tables) = tables {
        let (created, dropped, unknown) = tables.await.expect("table churn");
        check_tables(&url, &created, &dropped, &unknown).await;
    }
    let outcomes = match reshapes {
        Some(reshapes) => Some(reshapes.await.expect("reshape churn")),
        None => None,
    };
    if let Some(garbage) = garbage {
        let answered = garbage.join().expect("garbage sender");
        eprintln!("malformed requests answered with protocol errors: {answered}");
        assert!(answered > 0);
    }
    // Let the clients see the healed cluster for a moment, then stop them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let epoch = workload.epoch;
    let mut history = workload.finish().await;
    let lists = final_reads(&url, &mut history, epoch).await;
    let queued = queue.finish().await;
    let left = remaining(&url).await;
    eprintln!(
        "scenario {scenario:?}: queue: {} pushes acknowledged, {} unknown; {} delivered, \
         {} pops unknown, {} left",
        queued.pushed.len(),
        queued.maybe_pushed.len(),
        queued.popped.len(),
        queued.unknown_pops,
        left.len()
    );
    assert!(!queued.popped.is_empty(), "no BRPOP delivered anything");
    if let Err(e) = check_queue(&queued, &left) {
        panic!("scenario {scenario:?}: queue: {e}");
    }
    eprintln!(
        "scenario {scenario:?}: {} operations attempted, {} acknowledged, {} indeterminate",
        history.attempted, history.acknowledged, history.indeterminate
    );
    assert!(
        history.acknowledged > 100,
        "too few operations succeeded to mean anything"
    );
    let lengths: Vec<usize> = lists.iter().map(Vec::len).collect();
    eprintln!("scenario {scenario:?}: final list lengths (APPEND, then RPUSH): {lengths:?}");
    assert!(
        lengths[LISTS..].iter().sum::<usize>() > 0,
        "no RPUSH was acknowledged"
    );
    if let Err(violation) = check_register(&history.registers) {
        panic!("scenario {scenario:?}: {violation}");
    }
    for (i, (ops, final_tokens)) in history.lists.iter().zip(&lists).enumerate() {
        if let Err(e) = check_appends(ops, final_tokens) {
            if reshaping {
                reshape::report_replicas(&cluster).await;
            }
            panic!("scenario {scenario:?}: list {i}: {e}");
        }
    }
    if scenario == Scenario::FollowerPurge {
        cluster
            .wait_replicas_agree(
                group,
                Duration::from_secs(60),
                "the purged follower to catch up",
            )
            .await;
    }
    if let Some(outcomes) = outcomes {
        // The clients stopped: every group's replicas converge.
        eprintln!("range changes: {outcomes:?}");
        assert!(outcomes.splits > 0 && outcomes.merges > 0, "{outcomes:?}");
        reshape::check_layout(&cluster).await;
    }
    eprintln!("scenario {scenario:?}: linearizable, no acknowledged write lost");
}

/// The group members (namespace indexes) as the catalog has them.
async fn members(cluster: &Cluster, group: u64) -> Vec<usize> {
    let catalog = cluster.catalog().await.expect("catalog");
    catalog.groups[&group]
        .members
        .iter()
        .map(|n| *n as usize - 1)
        .collect()
}

async fn leader(cluster: &Cluster, group: u64) -> NodeId {
    wait_for(Duration::from_secs(30), "a group leader", || {
        cluster.leader_of(group)
    })
    .await
}

async fn inject(
    cluster: &mut Cluster,
    scenario: Scenario,
    group: u64,
    rng: &mut Rng,
    until: Instant,
) {
    let n = cluster.nodes.len();
    let mut round = 0;
    while Instant::now() < until {
        round += 1;
        match scenario {
            Scenario::Reshape => reshape::faults_round(cluster, rng).await,
            Scenario::ReshapeShuffle => reshape::shuffle_round(cluster, rng, round - 1).await,
            Scenario::LeaderPartition | Scenario::Garbage => {
                let a = leader(cluster, group).await as usize - 1;
                let lab = cluster.lab.as_ref().unwrap();
                let others: Vec<usize> = (0..n).filter(|i| *i != a).collect();
                others.iter().for_each(|b| lab.cut(a, *b));
                tokio::time::sleep(Duration::from_secs(4)).await;
                others.iter().for_each(|b| lab.heal(a, *b));
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Scenario::Bisect => {
                let lab = cluster.lab.as_ref().unwrap();
                let (left, right) = ([0usize, 1], [2usize, 3, 4]);
                let halves: Vec<(usize, usize)> = left
                    .iter()
                    .flat_map(|a| right.iter().map(move |b| (*a, *b)))
                    .collect();
                halves.iter().for_each(|(a, b)| lab.cut(*a, *b));
                tokio::time::sleep(Duration::from_secs(4)).await;
                halves.iter().for_each(|(a, b)| lab.heal(*a, *b));
                tokio::time::sleep(Duration::from_secs(2)).await;
                // Ring: node i keeps only i-1 and i+1.
                let ring: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 2) % n)).collect();
                ring.iter().for_each(|(a, b)| lab.cut(*a, *b));
                tokio::time::sleep(Duration::from_secs(4)).await;
                ring.iter().for_each(|(a, b)| lab.heal(*a, *b));
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Scenario::Pause => {
                let a = leader(cluster, group).await;
                let service = cluster.nodes[a as usize - 1].1.as_ref().unwrap();
                service.signal(libc::SIGSTOP);
                tokio::time::sleep(PAUSE).await;
                service.signal(libc::SIGCONT);
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Scenario::KillLoop => {
                let victim = if rng.below(2) == 0 {
                    leader(cluster, group).await
                } else {
                    rng.below(n as u64) + 1
                };
                cluster.kill_node(victim);
                tokio::time::sleep(Duration::from_secs(2)).await;
                cluster.restart_node(victim);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Scenario::KillAll => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                cluster.kill_all_and_restart();
                wait_serving(&cluster.url(), Duration::from_secs(60)).await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Scenario::Island => {
                let a = leader(cluster, group).await as usize - 1;
                let lab = cluster.lab.as_ref().unwrap();
                let others: Vec<usize> = (0..n).filter(|i| *i != a).collect();
                let metas: Vec<usize> = (1..=cluster.meta.len() as u64)
                    .map(|m| cluster.meta_ns(m))
                    .collect();
                for b in &others {
                    lab.cut(a, *b);
                    lab.cut_host(*b);
                    metas.iter().for_each(|m| lab.cut(*b, *m));
                }
                tokio::time::sleep(Duration::from_secs(4)).await;
                for b in &others {
                    lab.heal(a, *b);
                    lab.heal_host(*b);
                    metas.iter().for_each(|m| lab.heal(*b, *m));
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Scenario::Churn => {
                let catalog = cluster.catalog().await.expect("catalog");
                let active: Vec<NodeId> = catalog
                    .nodes
                    .values()
                    .filter(|d| d.state == tessera_proto::catalog::NodeState::Active)
                    .map(|d| d.id)
                    .collect();
                let group_members = &catalog.groups[&group].members;
                let registered = catalog.nodes.len();
                if cluster.nodes[n - 1].1.is_none() && active.len() < n - 1 {
                    // Once the first node is drained: a new node joins.
                    cluster.restart_node(n as NodeId);
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    continue;
                }
                if active.len() == registered && registered == n - 1 {
                    // Once: drain a member of the group.
                    let leaving = group_members[rng.below(group_members.len() as u64) as usize];
                    let mut con = crate::harness::connect(&cluster.url()).await;
                    let _: () = redis::cmd("DECOMMISSION")
                        .arg(leaving)
                        .query_async(&mut con)
                        .await
                        .expect("DECOMMISSION");
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    continue;
                }
                // Kill an active member past --dead-after, then bring it back.
                let candidates: Vec<NodeId> = group_members
                    .iter()
                    .copied()
                    .filter(|m| active.contains(m))
                    .collect();
                let victim = candidates[rng.below(candidates.len() as u64) as usize];
                cluster.kill_node(victim);
                tokio::time::sleep(Duration::from_secs(7)).await;
                cluster.restart_node(victim);
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Scenario::MetaChurn => {
                let Some(leader) = cluster.meta_leader().await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                match rng.below(3) {
                    0 => {
                        cluster.kill_meta(leader);
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        cluster.restart_meta(leader);
                    }
                    1 => {
                        let member = cluster.meta[leader as usize - 1].1.as_ref().unwrap();
                        member.signal(libc::SIGSTOP);
                        tokio::time::sleep(PAUSE).await;
                        member.signal(libc::SIGCONT);
                    }
                    _ => {
                        // Partitioned from the other meta members (nodes and routers
                        // still reach it).
                        let lab = cluster.lab.as_ref().unwrap();
                        let me = cluster.meta_ns(leader);
                        let peers: Vec<usize> = (1..=cluster.meta.len() as u64)
                            .filter(|m| *m != leader)
                            .map(|m| cluster.meta_ns(m))
                            .collect();
                        peers.iter().for_each(|p| lab.cut(me, *p));
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        peers.iter().for_each(|p| lab.heal(me, *p));
                    }
                }
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Scenario::Slow => {
                cluster
                    .slow
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep_until(until.into()).await;
            }
            Scenario::FollowerPurge => {
                let a = leader(cluster, group).await as usize - 1;
                let follower = members(cluster, group)
                    .await
                    .into_iter()
                    .find(|m| *m != a)
                    .expect("a follower");
                let id = follower as NodeId + 1;
                cluster.kill_node(id);
                // Long enough for hundreds of entries: snapshots every 200, 20 kept.
                tokio::time::sleep(Duration::from_secs(3)).await;
                cluster.restart_node(id);
                tokio::time::sleep(Duration::from_secs(4)).await;
            }
        }
    }
}

/// Creates and drops tables `churnN` for `duration`; returns the names whose creation
/// was acknowledged, whose drop was acknowledged, and those with an unknown outcome.
async fn table_churn(url: String, duration: Duration) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut created, mut dropped, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    let until = Instant::now() + duration;
    let mut con = crate::harness::connect(&url).await;
    // Bounded: at most 500 tables.
    for i in 0..500 {
        if Instant::now() >= until {
            break;
        }
        let name = format!("churn{i}");
        let r: redis::RedisResult<()> = redis::cmd("CREATETABLE")
            .arg(&name)
            .query_async(&mut con)
            .await;
        if r.is_err() {
            unknown.push(name);
            continue;
        }
        created.push(name.clone());
        if i % 2 == 0 {
            let r: redis::RedisResult<()> = redis::cmd("DROPTABLE")
                .arg(&name)
                .query_async(&mut con)
                .await;
            match r {
                Ok(()) => dropped.push(name),
                Err(_) => unknown.push(name),
            }
        }
    }
    (created, dropped, unknown)
}

/// Every acknowledged creation not dropped exists, every acknowledged drop is gone,
/// and nothing exists that was never created.
async fn check_tables(url: &str, created: &[String], dropped: &[String], unknown: &[String]) {
    let mut con = crate::harness::connect(url).await;
    let tables: Vec<String> = redis::cmd("TABLES")
        .query_async(&mut con)
        .await
        .expect("TABLES");
    eprintln!(
        "tables: {} created, {} dropped, {} with unknown outcome, {} exist",
        created.len(),
        dropped.len(),
        unknown.len(),
        tables.len()
    );
    assert!(!created.is_empty(), "no table creation succeeded");
    for name in created
        .iter()
        .filter(|n| !dropped.contains(n) && !unknown.contains(n))
    {
        assert!(
            tables.contains(name),
            "acknowledged table {name} is missing"
        );
    }
    for name in dropped {
        assert!(!tables.contains(name), "dropped table {name} is back");
    }
    for name in tables.iter().filter(|t| t.starts_with("churn")) {
        assert!(
            created.contains(name) || unknown.contains(name),
            "table {name} was never created"
        );
    }
}

/// Undoes every fault: all nodes running and resumed, no cut links.
fn heal_everything(cluster: &mut Cluster) {
    cluster
        .slow
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let ids: Vec<NodeId> = cluster.nodes.iter().map(|(id, _)| *id).collect();
    for id in ids {
        match &cluster.nodes[id as usize - 1].1 {
            Some(service) => service.signal(libc::SIGCONT),
            None => cluster.restart_node(id),
        }
    }
}

/// Sends malformed and oversized requests to `addr` on fresh connections until
/// `duration` passes; returns how many were answered with a protocol error.
fn send_garbage(addr: std::net::SocketAddr, duration: Duration) -> usize {
    let attempts: [&[u8]; 6] = [
        b"*1\r\n$-5\r\n",
        b"*2\r\n$3\r\nGET\r\n$99999999999\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$600000000\r\n",
        b"*-\r\n",
        b"*1\r\n+PING\r\n",
        b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n",
    ];
    let until = Instant::now() + duration;
    let mut answered = 0;
    let mut i = 0;
    while Instant::now() < until {
        let attempt = attempts[i % attempts.len()];
        i += 1;
        let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if stream.write_all(attempt).is_err() {
            continue;
        }
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        if String::from_utf8_lossy(&reply).contains("-ERR Protocol error") {
            answered += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    answered
}

//! Range changes under faults: splits and merges of the default table at the
//! workload's keys while nodes are partitioned, paused and killed (scenario 12), or
//! while leaders are shuffled and replicas move (scenario 13); then the layout check —
//! the ranges tile the table and every group's replicas hold the same data.

use crate::cluster::Cluster;
use crate::harness::{connect, wait_for};
use crate::workload::Rng;
use std::time::{Duration, Instant};
use tessera_proto::catalog::{GroupId, NodeId, NodeState};
use tessera_proto::keys::{table_end, table_start};

/// Longer than a follower waits before electing.
const PAUSE: Duration = Duration::from_millis(1600);

/// Where the changes cut: boundaries among the workload's keys.
const POINTS: [&str; 5] = ["list:1", "list:2", "reg:", "reg:2", "reg:4"];

/// What the changes came to.
#[derive(Debug, Default)]
pub struct Outcomes {
    pub splits: usize,
    pub merges: usize,
    /// Refused (no such boundary) or unknown (a fault in the way).
    pub other: usize,
}

/// Splits and merges the default table at [`POINTS`] until `duration` passes.
pub async fn churn(url: String, duration: Duration, seed: u64) -> Outcomes {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut outcomes = Outcomes::default();
    let until = Instant::now() + duration;
    let mut con = connect(&url).await;
    // Bounded: at most 400 changes.
    for _ in 0..400 {
        if Instant::now() >= until {
            break;
        }
        let point = POINTS[rng.below(POINTS.len() as u64) as usize];
        let split = rng.below(3) != 0; // More splits than merges: more to merge.
        let cmd = if split { "SPLIT" } else { "MERGE" };
        let mut request = redis::cmd(cmd);
        request.arg("default").arg(point);
        let asked = request.query_async::<redis::Value>(&mut con);
        match tokio::time::timeout(Duration::from_secs(30), asked).await {
            Ok(Ok(_)) if split => outcomes.splits += 1,
            Ok(Ok(_)) => outcomes.merges += 1,
            Ok(Err(_)) => outcomes.other += 1,
            Err(_) => {
                outcomes.other += 1;
                con = connect(&url).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    outcomes
}

/// The groups of the default table's ranges now.
async fn groups(cluster: &Cluster) -> Vec<GroupId> {
    let catalog = cluster.catalog().await.expect("catalog");
    catalog.table_ranges(0).iter().map(|r| r.group).collect()
}

/// A node leading one of the default table's groups, if one is found.
async fn some_leader(cluster: &Cluster, rng: &mut Rng) -> Option<NodeId> {
    let groups = groups(cluster).await;
    let group = groups[rng.below(groups.len() as u64) as usize];
    cluster.leader_of(group).await
}

/// One round of scenario 12: a leader cut off, a node paused, or a node killed.
pub async fn faults_round(cluster: &mut Cluster, rng: &mut Rng) {
    let n = cluster.nodes.len();
    match rng.below(3) {
        0 => {
            let Some(a) = some_leader(cluster, rng).await else {
                return;
            };
            let a = a as usize - 1;
            let lab = cluster.lab.as_ref().unwrap();
            let others: Vec<usize> = (0..n).filter(|i| *i != a).collect();
            others.iter().for_each(|b| lab.cut(a, *b));
            tokio::time::sleep(Duration::from_secs(3)).await;
            others.iter().for_each(|b| lab.heal(a, *b));
        }
        1 => {
            let victim = rng.below(n as u64) as usize;
            if let Some(service) = cluster.nodes[victim].1.as_ref() {
                service.signal(libc::SIGSTOP);
                tokio::time::sleep(PAUSE).await;
                service.signal(libc::SIGCONT);
            }
        }
        _ => {
            let victim = rng.below(n as u64) + 1;
            cluster.kill_node(victim);
            tokio::time::sleep(Duration::from_secs(2)).await;
            cluster.restart_node(victim);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// One round of scenario 13: first a node drains (its replicas move) and a new one
/// joins (replicas move to it); every round a leader is paused until its followers
/// elect another.
pub async fn shuffle_round(cluster: &mut Cluster, rng: &mut Rng, round: usize) {
    let n = cluster.nodes.len();
    if round == 0 {
        let catalog = cluster.catalog().await.expect("catalog");
        let leaving = catalog
            .nodes
            .values()
            .find(|d| d.state == NodeState::Active)
            .map(|d| d.id)
            .expect("an active node");
        let mut con = connect(&cluster.url()).await;
        let _: () = redis::cmd("DECOMMISSION")
            .arg(leaving)
            .query_async(&mut con)
            .await
            .expect("DECOMMISSION");
    }
    if round == 2 && cluster.nodes[n - 1].1.is_none() {
        cluster.restart_node(n as NodeId); // The held-back node joins.
    }
    if let Some(leader) = some_leader(cluster, rng).await {
        if let Some(service) = cluster.nodes[leader as usize - 1].1.as_ref() {
            service.signal(libc::SIGSTOP);
            tokio::time::sleep(PAUSE).await;
            service.signal(libc::SIGCONT);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// The default table's ranges tile it, and every group's replicas agree.
pub async fn check_layout(cluster: &Cluster) {
    let ranges = wait_for(Duration::from_secs(60), "a tiled default table", || async {
        let catalog = cluster.catalog().await?;
        let ranges = catalog.table_ranges(0);
        let tiled = ranges.first()?.start == table_start(0)
            && ranges.last()?.end == table_end(0)
            && ranges.windows(2).all(|w| w[0].end == w[1].start);
        tiled.then_some(ranges)
    })
    .await;
    eprintln!("default table: {} ranges after the churn", ranges.len());
    for range in ranges {
        let what = format!("replicas of range {} to agree", range.id);
        cluster
            .wait_replicas_agree(range.group, Duration::from_secs(60), &what)
            .await;
    }
}

/// Prints each default-table group's replicas (applied index, key count, digest): on a
/// failed check, whether the replicas parted.
pub async fn report_replicas(cluster: &Cluster) {
    let Some(catalog) = cluster.catalog().await else {
        eprintln!("no catalog to report replicas from");
        return;
    };
    for range in catalog.table_ranges(0) {
        let members = &catalog.groups[&range.group].members;
        for m in members {
            let digest = cluster.digest(*m, range.group).await;
            eprintln!(
                "range {} [{:?}..{:?}) group {} node {m}: {digest:?}",
                range.id, range.start, range.end, range.group
            );
        }
    }
}

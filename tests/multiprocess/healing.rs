//! The controller healing a cluster of separate processes: a dead node's replicas are
//! replaced, a decommissioned node is drained, a new node receives replicas, and the
//! catalog stays available when the meta leader dies.

use crate::cluster::{Cluster, Shape};
use crate::harness::{connect, test_dir, wait_for, wait_serving};
use crate::load::{assert_all_readable, wait_keys, Load};
use crate::sigkill::default_leader;
use redis::AsyncCommands;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tessera_proto::catalog::NodeId;

/// Quick failure detection, so the tests do not wait the 10 s default.
fn quick() -> Shape {
    Shape {
        meta_flags: vec!["--dead-after".into(), "3s".into()],
        node_flags: vec!["--heartbeat-interval".into(), "250ms".into()],
        ..Shape::default()
    }
}

/// The `replicas` field of the default table's (single) range in `RANGES default`.
async fn range_replicas(con: &mut redis::aio::MultiplexedConnection) -> Vec<NodeId> {
    use redis::Value;
    let ranges: Value = redis::cmd("RANGES")
        .arg("default")
        .query_async(con)
        .await
        .unwrap();
    let Value::Array(ranges) = ranges else {
        panic!("RANGES reply {ranges:?}")
    };
    let Some(Value::Array(fields)) = ranges.first() else {
        panic!("RANGES reply {ranges:?}")
    };
    for pair in fields.chunks(2) {
        if let [Value::BulkString(name), Value::Array(ids)] = pair {
            if name == b"replicas" {
                return ids
                    .iter()
                    .map(|v| match v {
                        Value::Int(i) => *i as NodeId,
                        other => panic!("replica id {other:?}"),
                    })
                    .collect();
            }
        }
    }
    panic!("no replicas field in {fields:?}")
}

/// Replica counts per node in the catalog.
async fn replica_counts(cluster: &Cluster) -> Option<BTreeMap<NodeId, usize>> {
    let catalog = cluster.catalog().await?;
    let mut counts: BTreeMap<NodeId, usize> = BTreeMap::new();
    for group in catalog.groups.values() {
        for m in &group.members {
            *counts.entry(*m).or_default() += 1;
        }
    }
    Some(counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_replicas_are_replaced_and_agree() {
    let dir = test_dir();
    let mut cluster = Cluster::start(
        dir.path(),
        Shape {
            nodes: 4,
            ..quick()
        },
    );
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let (group, members) = cluster.default_group().await;
    let spare = (1..=4).find(|n| !members.contains(n)).unwrap();
    let load = Load::start(&cluster.url(), 3, "w");
    let victim = wait_for(Duration::from_secs(10), "a known leader", || {
        let mut con = con.clone();
        async move { default_leader(&mut con).await }
    })
    .await;
    // Let the writers get going, then kill the group's leader and leave it dead.
    wait_keys(&con, 100).await;
    cluster.kill_node(victim);
    let killed = Instant::now();
    let expected: Vec<NodeId> = members
        .iter()
        .copied()
        .filter(|m| *m != victim)
        .chain([spare])
        .collect();
    wait_for(
        Duration::from_secs(60),
        "the dead node's replica to be replaced",
        || async {
            let catalog = cluster.catalog().await?;
            let mut now = catalog.groups.get(&group)?.members.clone();
            now.sort_unstable();
            let mut want = expected.clone();
            want.sort_unstable();
            (now == want).then_some(())
        },
    )
    .await;
    let (acked, errors) = load.finish().await;
    cluster
        .wait_replicas_agree(
            group,
            Duration::from_secs(60),
            "the three live replicas to agree",
        )
        .await;
    eprintln!(
        "replica replaced and in step {:?} after SIGKILL of node {victim} ({} writes acked, {errors} failed)",
        killed.elapsed(),
        acked.len()
    );
    let mut shown = range_replicas(&mut con).await;
    shown.sort_unstable();
    let mut want = expected.clone();
    want.sort_unstable();
    assert_eq!(shown, want, "RANGES default shows the new replica set");
    assert_all_readable(&mut con, &acked).await;

    // The dead node comes back: its replica of the group is gone from the group, so it
    // deletes it.
    cluster.restart_node(victim);
    let victim_addr = cluster.nodes[victim as usize - 1].1.as_ref().unwrap().addr;
    let client = tessera_proto::NodeClient::new(victim_addr.to_string());
    let footprint = tessera_proto::NodeRequest::Footprint {
        start: tessera_proto::keys::table_start(0),
        end: tessera_proto::keys::table_end(0),
    };
    wait_for(
        Duration::from_secs(30),
        "the returning node to delete its old replica",
        || async {
            match client.call(&footprint, Duration::from_secs(5)).await {
                Ok(tessera_proto::NodeResponse::Footprint(Ok((0, 0)))) => Some(()),
                _ => None,
            }
        },
    )
    .await;
    assert_all_readable(&mut con, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_gets_replicas_and_a_decommissioned_one_is_drained() {
    let dir = test_dir();
    let mut cluster = Cluster::start(dir.path(), quick());
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    for t in ["alpha", "beta"] {
        let _: () = redis::cmd("CREATETABLE")
            .arg(t)
            .query_async(&mut con)
            .await
            .unwrap();
    }
    let mut acked = Vec::new();
    for i in 0..100u64 {
        for t in ["alpha", "beta", "plain"] {
            let key = format!("{t}:{i}");
            let _: () = con.set(&key, i).await.unwrap();
            acked.push((key, i));
        }
    }
    // A fourth node joins: 9 replicas over 4 nodes end up 2 or 3 each.
    let joined = cluster.add_node();
    wait_for(
        Duration::from_secs(60),
        "replica counts to even out",
        || async {
            let counts = replica_counts(&cluster).await?;
            let on_new = counts.get(&joined).copied().unwrap_or(0);
            let (min, max) = (1..=4).fold((usize::MAX, 0), |(lo, hi), n| {
                let c = counts.get(&n).copied().unwrap_or(0);
                (lo.min(c), hi.max(c))
            });
            (on_new >= 2 && max - min <= 1).then_some(())
        },
    )
    .await;
    assert_all_readable(&mut con, &acked).await;

    // Decommission a node under load: no client request fails.
    let load = Load::start(&cluster.url(), 3, "d");
    wait_keys(&con, 400).await;
    let (_, members) = cluster.default_group().await;
    let leaving = members[0];
    let _: () = redis::cmd("DECOMMISSION")
        .arg(leaving)
        .query_async(&mut con)
        .await
        .unwrap();
    wait_for(
        Duration::from_secs(90),
        "the node to be drained and removed",
        || async {
            let catalog = cluster.catalog().await?;
            let node = catalog.nodes.get(&leaving)?;
            let holds = catalog
                .groups
                .values()
                .any(|g| g.members.contains(&leaving));
            (node.state == tessera_proto::catalog::NodeState::Removed && !holds).then_some(())
        },
    )
    .await;
    let nodes: redis::Value = redis::cmd("NODES").query_async(&mut con).await.unwrap();
    assert!(format!("{nodes:?}").contains("removed"), "{nodes:?}");
    cluster.kill_node(leaving);
    let (more, errors) = load.finish().await;
    assert_eq!(errors, 0, "client requests failed during DECOMMISSION");
    acked.extend(more);
    let mut con = connect(&cluster.url()).await;
    assert_all_readable(&mut con, &acked).await;
    let catalog = cluster.catalog().await.unwrap();
    for group in catalog.groups.keys() {
        cluster
            .wait_replicas_agree(*group, Duration::from_secs(30), "replicas to agree")
            .await;
    }
    // A removed node may not come back under its id.
    let refused: redis::RedisResult<()> = redis::cmd("DECOMMISSION")
        .arg(99)
        .query_async(&mut con)
        .await;
    assert!(refused.unwrap_err().to_string().contains("no such node 99"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_survives_sigkill_of_the_meta_leader() {
    let dir = test_dir();
    let mut cluster = Cluster::start(dir.path(), Shape::default());
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let _: () = redis::cmd("CREATETABLE")
        .arg("before")
        .query_async(&mut con)
        .await
        .unwrap();
    let leader = wait_for(Duration::from_secs(10), "a meta leader", || {
        cluster.meta_leader()
    })
    .await;
    let load = Load::start(&cluster.url(), 3, "before:");
    wait_keys(&con, 100).await;
    cluster.kill_meta(leader);
    let killed = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let created: redis::RedisResult<()> = redis::cmd("CREATETABLE")
            .arg("after")
            .query_async(&mut con)
            .await;
        match created {
            Ok(()) => break,
            Err(e) if e.to_string().contains("already exists") => break,
            Err(e) => assert!(
                killed.elapsed() < Duration::from_secs(10),
                "CREATETABLE still failing {:?} after the meta leader died: {e}",
                killed.elapsed()
            ),
        }
    }
    let took = killed.elapsed();
    eprintln!("CREATETABLE succeeded {took:?} after SIGKILL of meta leader {leader} ({attempts} attempts)");
    assert!(took < Duration::from_secs(2), "CREATETABLE took {took:?}");
    let new_leader = wait_for(Duration::from_secs(10), "a new meta leader", || {
        cluster.meta_leader()
    })
    .await;
    assert_ne!(new_leader, leader);
    let _: () = con.set("after:x", "1").await.unwrap();
    let (acked, errors) = load.finish().await;
    assert_eq!(
        errors, 0,
        "writes to existing tables failed while meta failed over"
    );
    assert_all_readable(&mut con, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_wiped_data_directory_cannot_take_its_old_id() {
    let dir = test_dir();
    let mut cluster = Cluster::start(dir.path(), Shape::default());
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let _: () = con.set("kept", "1").await.unwrap();
    cluster.kill_node(3);
    std::fs::remove_dir_all(dir.path().join("node3")).unwrap();
    // Started again under id 3 with an empty directory: refused, exits non-zero.
    let args = cluster.node_args_of(3);
    let log = dir.path().join("impostor.log");
    let mut impostor = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let status = wait_for(Duration::from_secs(30), "the impostor to exit", || {
        let status = impostor.try_wait().unwrap();
        async move { status }
    })
    .await;
    assert!(!status.success(), "the impostor was accepted");
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("node 3 is registered with another data directory"),
        "{stderr}"
    );
    let value: String = con.get("kept").await.unwrap();
    assert_eq!(value, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_follower_is_replaced() {
    let dir = test_dir();
    let shape = Shape {
        nodes: 4,
        namespaces: true,
        meta_flags: ["--lag-entries", "50", "--lag-window", "2s"]
            .map(String::from)
            .to_vec(),
        node_flags: ["--heartbeat-interval", "250ms"].map(String::from).to_vec(),
        ..Shape::default()
    };
    let cluster = Cluster::start(dir.path(), shape);
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let (group, members) = cluster.default_group().await;
    let leader = wait_for(Duration::from_secs(10), "a leader", || {
        cluster.leader_of(group)
    })
    .await;
    let laggard = *members.iter().find(|m| **m != leader).unwrap();
    let spare = (1..=4).find(|n| !members.contains(n)).unwrap();
    // The follower keeps reaching the meta service (it is alive) but not the other
    // members: it falls behind as writes go on.
    let lab = cluster.lab.as_ref().unwrap();
    let idx = |n: NodeId| n as usize - 1;
    for other in members.iter().filter(|m| **m != laggard) {
        lab.cut(idx(laggard), idx(*other));
    }
    let load = Load::start(&cluster.url(), 2, "lag");
    wait_for(
        Duration::from_secs(60),
        "the lagging follower to be replaced",
        || async {
            let catalog = cluster.catalog().await?;
            let now = &catalog.groups.get(&group)?.members;
            (now.contains(&spare) && !now.contains(&laggard)).then_some(())
        },
    )
    .await;
    let (acked, errors) = load.finish().await;
    assert_eq!(errors, 0, "writes failed while a follower lagged");
    for other in members.iter().filter(|m| **m != laggard) {
        lab.heal(idx(laggard), idx(*other));
    }
    cluster
        .wait_replicas_agree(
            group,
            Duration::from_secs(60),
            "the new replica set to agree",
        )
        .await;
    assert_all_readable(&mut con, &acked).await;
}

/// Regression (found by fault scenario 13): a leader purges its log before it adds a
/// learner, so the learner is sent a snapshot; but a leader elected before the learner
/// received it, whose own log was never purged, sent the group's log from its first
/// entry. The learner had started from the range at its current epoch, refused every
/// earlier write as stale and lost it; once it led, reads missed them. Now it refuses
/// that replay, and the new leader purges its log and sends a snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_whose_leader_changes_still_starts_from_a_snapshot() {
    let dir = test_dir();
    let shape = Shape {
        nodes: 4,
        namespaces: true,
        ..quick()
    };
    let cluster = Cluster::start(dir.path(), shape);
    let mut con = wait_serving(&cluster.url(), Duration::from_secs(60)).await;
    let (group, members) = cluster.default_group().await;
    let spare = (1..=4).find(|n| !members.contains(n)).unwrap();
    // The spare reaches the meta service (it may receive replicas) but no member.
    let lab = cluster.lab.as_ref().unwrap();
    let idx = |n: NodeId| n as usize - 1;
    members.iter().for_each(|m| lab.cut(idx(spare), idx(*m)));
    // Writes at the range's first epoch, a split (the epoch moves on), more writes.
    let mut acked = Vec::new();
    for prefix in ["before", "after"] {
        if prefix == "after" {
            let _: redis::Value = redis::cmd("SPLIT")
                .arg("default")
                .arg("m")
                .query_async(&mut con)
                .await
                .expect("SPLIT");
        }
        for i in 0..40u64 {
            let key = format!("{prefix}:{i}");
            let _: () = con.set(&key, i).await.unwrap();
            acked.push((key, i));
        }
    }
    let leader = wait_for(Duration::from_secs(30), "a leader", || {
        cluster.leader_of(group)
    })
    .await;
    let leaving = *members.iter().find(|m| **m != leader).unwrap();
    let _: () = redis::cmd("DECOMMISSION")
        .arg(leaving)
        .query_async(&mut con)
        .await
        .unwrap();
    // A leader purges its log, then adds the spare as a learner: the entry after it.
    let purged_by = wait_for(
        Duration::from_secs(60),
        "a leader to purge its log and add the learner",
        || async {
            for m in &members {
                let d = cluster.digest(*m, group).await;
                if d.is_some_and(|d| d.leader == Some(*m) && d.purged > 0 && d.applied > d.purged) {
                    return Some(*m);
                }
            }
            None
        },
    )
    .await;
    // Another member, whose log holds the first entry, takes over.
    let signal = |sig| {
        let service = cluster.nodes[idx(purged_by)].1.as_ref().unwrap();
        service.signal(sig)
    };
    signal(libc::SIGSTOP);
    wait_for(Duration::from_secs(30), "another leader", || async {
        cluster.leader_of(group).await.filter(|l| *l != purged_by)
    })
    .await;
    signal(libc::SIGCONT);
    members.iter().for_each(|m| lab.heal(idx(spare), idx(*m)));
    wait_for(
        Duration::from_secs(90),
        "the decommissioned node to be drained",
        || async {
            let catalog = cluster.catalog().await?;
            let drained = catalog
                .groups
                .values()
                .all(|g| !g.members.contains(&leaving));
            (drained && catalog.groups[&group].members.contains(&spare)).then_some(())
        },
    )
    .await;
    cluster
        .wait_replicas_agree(group, Duration::from_secs(60), "the new replica to agree")
        .await;
    assert_all_readable(&mut con, &acked).await;
}

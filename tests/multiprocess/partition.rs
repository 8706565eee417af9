//! The seed's split-brain scenario with real network partitions: each storage node runs
//! in its own network namespace (needs root). Leader A is cut off from followers B and
//! C; B or C takes over and serves writes; A acknowledges nothing; after healing A is a
//! follower holding exactly the new leader's data.

use crate::cluster::{args, single_meta, use_secret, SECRET};
use crate::harness::netns::NetLab;
use crate::harness::process::{free_port, Service};
use crate::harness::{connect, test_dir, wait_for, wait_serving};
use crate::sigkill::default_leader;
use redis::AsyncCommands;
use std::time::Duration;
use tessera_proto::commands::strings::MSet;
use tessera_proto::keys::storage_key;
use tessera_proto::{DataRequest, NodeClient, NodeRequest, NodeResponse};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_acknowledges_nothing_and_rejoins_as_follower() {
    use_secret();
    let dir = test_dir();
    let log = dir.path().join("cluster.log");
    let lab = NetLab::new(3);
    let meta_addr = format!("{}:{}", lab.host_ip(), free_port());
    let meta_data = dir.path().join("meta");
    let _meta = single_meta(&meta_addr, &meta_data, &log);
    // Node i+1 lives in namespace i.
    let nodes: Vec<Service> = (0..3)
        .map(|i| {
            let data = dir.path().join(format!("node{}", i + 1));
            Service::start_wrapped(
                &lab.wrapper(i),
                &args(&[
                    "node",
                    "--cluster-secret",
                    SECRET,
                    "--id",
                    &(i + 1).to_string(),
                    "--listen",
                    &format!("{}:0", lab.ip_of(i)),
                    "--resp",
                    "off",
                    "--meta",
                    &meta_addr,
                    "--data-dir",
                    data.to_str().unwrap(),
                ]),
                &log,
            )
        })
        .collect();
    let router = Service::start(
        &args(&[
            "router",
            "--cluster-secret",
            SECRET,
            "--port",
            "0",
            "--meta",
            &meta_addr,
        ]),
        &log,
    );
    let url = format!("redis://{}", router.addr);
    let mut con = wait_serving(&url, Duration::from_secs(60)).await;
    let mut acked = Vec::new();
    for i in 0..100 {
        let key = format!("before:{i}");
        let _: () = con.set(&key, i).await.unwrap();
        acked.push((key, i));
    }
    let old = wait_for(Duration::from_secs(10), "a known leader", || {
        let mut con = con.clone();
        async move { default_leader(&mut con).await }
    })
    .await;
    let a = old as usize - 1;
    let others: Vec<usize> = (0..3).filter(|i| *i != a).collect();
    let meta = tessera_proto::MetaClient::new([meta_addr.clone()]);
    let catalog = meta.full_catalog().await.unwrap();
    let group = catalog
        .ranges
        .values()
        .find(|r| r.table == 0)
        .unwrap()
        .group;
    let epoch = catalog
        .ranges
        .values()
        .find(|r| r.table == 0)
        .unwrap()
        .epoch;

    for b in &others {
        lab.cut(a, *b);
    }
    // A keeps reaching the meta service and the router, but not B and C.
    let node_a = NodeClient::new(nodes[a].addr.to_string());
    let rogue = NodeRequest::Data {
        group,
        epoch,
        req: DataRequest::Write(vec![MSet {
            pairs: vec![(
                storage_key(0, b"rogue").into(),
                (&b"from-the-old-leader"[..]).into(),
            )],
        }
        .into()])
        .into(),
    };
    // The router finds the new leader; writes succeed again.
    let mut con = connect(&url).await;
    let new_leader = wait_for(
        Duration::from_secs(30),
        "writes through a new leader",
        || {
            let mut con = con.clone();
            async move {
                con.set::<_, _, ()>("during:probe", 1).await.ok()?;
                let leader = default_leader(&mut con).await?;
                (leader != old).then_some(leader)
            }
        },
    )
    .await;
    acked.push(("during:probe".to_string(), 1));
    for i in 0..100 {
        let key = format!("during:{i}");
        let _: () = con.set(&key, i).await.unwrap();
        acked.push((key, i));
    }
    // The old leader cannot get a write acknowledged: it cannot reach a majority.
    match node_a.call(&rogue, Duration::from_secs(3)).await {
        Ok(NodeResponse::Data(Ok(resp))) => {
            panic!("the partitioned old leader acknowledged a write: {resp:?}")
        }
        other => eprintln!(
            "write to the partitioned old leader refused: {}",
            match other {
                Ok(NodeResponse::Data(Err(e))) => e.to_string(),
                Err(e) => e.to_string(),
                Ok(_) => "unexpected reply".into(),
            }
        ),
    }

    for b in &others {
        lab.heal(a, *b);
    }
    // After healing, A follows and holds exactly the new leader's data.
    let digest = |i: usize| {
        let client = NodeClient::new(nodes[i].addr.to_string());
        async move {
            match client
                .call(&NodeRequest::Digest { group }, Duration::from_secs(2))
                .await
            {
                Ok(NodeResponse::Digest(Ok(d))) => Some(d),
                _ => None,
            }
        }
    };
    let b = new_leader as usize - 1;
    wait_for(
        Duration::from_secs(30),
        "the old leader to catch up",
        || async {
            let (da, db) = (digest(a).await?, digest(b).await?);
            (da.leader == Some(new_leader)
                && da.applied == db.applied
                && da.digest == db.digest
                && da.keys == db.keys)
                .then_some(())
        },
    )
    .await;
    let rogue_value: Option<String> = con.get("rogue").await.unwrap();
    assert_eq!(
        rogue_value, None,
        "an unacknowledged write of the old leader survived"
    );
    for (key, want) in &acked {
        let got: Option<i64> = con.get(key).await.unwrap();
        assert_eq!(got, Some(*want), "{key} lost");
    }
    drop(nodes);
}

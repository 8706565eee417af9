//! Tables: creation with pre-split ranges, key mapping, sorted listing across tables
//! and ranges, the race-free CREATETABLE fence, DROPTABLE deleting the data on every
//! node, and a REPLICAS 5 table surviving two lost nodes.

use crate::harness::{wait_for, TestCluster};
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tessera_common::raftnet::RaftTimings;
use tessera_proto::keys::{storage_key, table_end, table_start};

/// A field of a map reply, in RESP2 (flat array) or RESP3 (map) form.
pub(crate) fn field<'a>(reply: &'a Value, name: &str) -> &'a Value {
    let pairs: Vec<(&Value, &Value)> = match reply {
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        Value::Array(items) => items.chunks(2).map(|c| (&c[0], &c[1])).collect(),
        other => panic!("not a map: {other:?}"),
    };
    let found = pairs
        .into_iter()
        .find(|(k, _)| matches!(k, Value::BulkString(b) if b == name.as_bytes()));
    found
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {name} in {reply:?}"))
}

pub(crate) fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

pub(crate) async fn admin(
    con: &mut MultiplexedConnection,
    args: &[&str],
) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query_async(con).await
}

/// The fields of each range `RANGES table` lists.
pub(crate) async fn ranges(
    con: &mut MultiplexedConnection,
    table: &str,
) -> Vec<BTreeMap<String, Value>> {
    let Value::Array(ranges) = admin(con, &["RANGES", table]).await.unwrap() else {
        panic!("RANGES answers an array");
    };
    ranges
        .into_iter()
        .map(|r| {
            let pairs: Vec<(String, Value)> = match r {
                Value::Map(pairs) => pairs
                    .into_iter()
                    .map(|(k, v)| (redis::from_redis_value(k).unwrap(), v))
                    .collect(),
                Value::Array(flat) => flat
                    .chunks(2)
                    .map(|kv| {
                        (
                            redis::from_redis_value(kv[0].clone()).unwrap(),
                            kv[1].clone(),
                        )
                    })
                    .collect(),
                other => panic!("a range is a map: {other:?}"),
            };
            pairs.into_iter().collect()
        })
        .collect()
}

async fn fill(cluster: &TestCluster, keys: Vec<String>) {
    let chunks: Vec<Vec<String>> = keys
        .chunks(keys.len().div_ceil(8).max(1))
        .map(<[String]>::to_vec)
        .collect();
    let writers = chunks.into_iter().map(|chunk| async move {
        let mut con = cluster.client().await;
        for part in chunk.chunks(500) {
            let mut pipe = redis::pipe();
            for key in part {
                pipe.set(key, "v").ignore();
            }
            let _: () = pipe.query_async(&mut con).await.unwrap();
        }
    });
    futures::future::join_all(writers).await;
}

async fn scan_all(
    con: &mut MultiplexedConnection,
    pattern: Option<&str>,
    count: usize,
) -> Vec<String> {
    let mut cursor = 0u64;
    let mut seen = Vec::new();
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor);
        if let Some(p) = pattern {
            cmd.arg("MATCH").arg(p);
        }
        let (next, keys): (u64, Vec<String>) =
            cmd.arg("COUNT").arg(count).query_async(con).await.unwrap();
        seen.extend(keys);
        if next == 0 {
            return seen;
        }
        cursor = next;
    }
}

async fn info_field(con: &mut MultiplexedConnection, section: &str, name: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query_async(con)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_write_inspect_and_drop_a_split_table() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let created = admin(
        &mut con,
        &["CREATETABLE", "stocks", "REPLICAS", "3", "SPLITS", "H", "P"],
    )
    .await
    .unwrap();
    assert_eq!(created, Value::Okay);
    let _: () = con.set("stocks:A", 120).await.unwrap();
    let _: () = con.set("stocks:Z", 1).await.unwrap();
    assert_eq!(con.get::<_, i64>("stocks:A").await.unwrap(), 120);

    let info = admin(&mut con, &["TABLE", "INFO", "stocks"]).await.unwrap();
    let Value::Array(ranges) = field(&info, "ranges") else {
        panic!("ranges: {info:?}")
    };
    assert_eq!(ranges.len(), 3);
    let groups: BTreeSet<i64> = ranges.iter().map(|r| int(field(r, "group"))).collect();
    assert_eq!(groups.len(), 3, "3 ranges on 3 different groups");
    assert_eq!(int(field(&info, "keys")), 2);
    let table = int(field(&info, "id")) as u32;
    let tables: Vec<String> = redis::cmd("TABLES").query_async(&mut con).await.unwrap();
    assert_eq!(tables, vec!["default".to_string(), "stocks".to_string()]);

    let errors = [
        (vec!["CREATETABLE", "stocks"], "already exists"),
        (vec!["CREATETABLE", "bad:name"], "may only contain"),
        (
            vec!["CREATETABLE", "big", "REPLICAS", "5"],
            "only 3 are live",
        ),
        (
            vec!["CREATETABLE", "x", "REPLICAS", "2"],
            "REPLICAS must be 1, 3 or 5",
        ),
        (vec!["DROPTABLE", "nosuch"], "no such table"),
        (vec!["DROPTABLE", "default"], "cannot be dropped"),
    ];
    for (args, expected) in errors {
        let err = admin(&mut con, &args).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{args:?}: {err}");
    }

    fill(
        &cluster,
        (0..50_000).map(|i| format!("stocks:{i:05}")).collect(),
    )
    .await;
    assert_eq!(
        redis::cmd("DBSIZE")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        50_002
    );

    assert_eq!(
        admin(&mut con, &["DROPTABLE", "stocks"]).await.unwrap(),
        Value::Okay
    );
    assert_eq!(
        con.get::<_, Option<String>>("stocks:A").await.unwrap(),
        None
    );
    let tables: Vec<String> = redis::cmd("TABLES").query_async(&mut con).await.unwrap();
    assert_eq!(tables, vec!["default".to_string()]);
    assert_eq!(
        redis::cmd("DBSIZE")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        0
    );
    // The keys `stocks:*` belong to default again.
    let _: () = con.set("stocks:A", "default now").await.unwrap();

    let (start, end) = (table_start(table), table_end(table));
    wait_for(
        Duration::from_secs(30),
        "the dropped table's data to leave every node",
        || async {
            let mut clean = true;
            for id in cluster.cluster.node_ids() {
                clean &= cluster.footprint(id, &start, &end).await == Some((0, 0));
            }
            clean.then_some(())
        },
    )
    .await;
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_is_sorted_across_tables_and_match_reads_only_its_table() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    admin(
        &mut con,
        &["CREATETABLE", "stocks", "SPLITS", "f", "m", "t"],
    )
    .await
    .unwrap();
    let mut expected = BTreeSet::new();
    let mut table_keys = Vec::new();
    for i in 0..2_000 {
        let letter = (b'a' + (i % 26) as u8) as char;
        table_keys.push(format!("stocks:{letter}{i:04}"));
    }
    expected.extend(table_keys.iter().cloned());
    let defaults = [
        "aaa", "stocks", "stocks0", "stock:x", "stocks;", "zzz", "stocka",
    ];
    expected.extend(defaults.iter().map(|k| k.to_string()));
    let mut all: Vec<String> = table_keys.clone();
    all.extend(defaults.iter().map(|k| k.to_string()));
    fill(&cluster, all).await;

    let seen = scan_all(&mut con, None, 100).await;
    assert_eq!(
        seen,
        expected.iter().cloned().collect::<Vec<_>>(),
        "byte order across tables, each key once"
    );
    let keys: Vec<String> = con.keys("*").await.unwrap();
    assert_eq!(keys, seen);

    let default_reads = info_field(&mut con, "tessera", "scan_range_reads_default").await;
    let table_reads = info_field(&mut con, "tessera", "scan_range_reads_stocks").await;
    let matched = scan_all(&mut con, Some("stocks:*"), 500).await;
    assert_eq!(
        matched,
        table_keys
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        info_field(&mut con, "tessera", "scan_range_reads_default").await,
        default_reads,
        "no default range read"
    );
    assert!(info_field(&mut con, "tessera", "scan_range_reads_stocks").await > table_reads);
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_returns_every_stable_key_once_while_others_change() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    admin(&mut con, &["CREATETABLE", "t", "SPLITS", "k4", "k8"])
        .await
        .unwrap();
    let stable: Vec<String> = (0..1_500).map(|i| format!("t:k{i:04}")).collect();
    fill(&cluster, stable.clone()).await;

    let churn = {
        let mut writer = cluster.client().await;
        tokio::spawn(async move {
            for i in 0..600 {
                let key = if i % 2 == 0 {
                    format!("t:k{:04}x", i % 1500)
                } else {
                    format!("t:k{:04}y", (i * 7) % 1500)
                };
                let _: () = writer.set(&key, i).await.unwrap();
                if i % 3 == 0 {
                    let _: i64 = writer.del(&key).await.unwrap();
                }
            }
        })
    };
    let seen = scan_all(&mut con, Some("t:*"), 50).await;
    churn.await.unwrap();
    let stable_seen: Vec<&String> = seen
        .iter()
        .filter(|k| !k.ends_with('x') && !k.ends_with('y'))
        .collect();
    assert_eq!(
        stable_seen.len(),
        stable.len(),
        "no stable key skipped or repeated"
    );
    assert!(stable_seen.iter().zip(&stable).all(|(a, b)| *a == b));
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn createtable_is_refused_while_default_holds_its_keys_and_never_strands_one() {
    let mut cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let _: () = con.set("user:1", "in default").await.unwrap();
    let err = admin(&mut con, &["CREATETABLE", "user"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("1 key(s) starting with 'user:'") && err.contains("user:1"),
        "{err}"
    );
    assert_eq!(
        con.get::<_, String>("user:1").await.unwrap(),
        "in default",
        "refusal changes nothing"
    );
    let _: i64 = con.del("user:1").await.unwrap();

    // A writer on another router keeps adding user:* keys while the table is created.
    let other = cluster.cluster.add_router().await.unwrap();
    let writer = tokio::spawn(async move {
        let mut con = crate::harness::connect(&format!("redis://{other}")).await;
        let (mut acked, mut refused) = (Vec::new(), 0);
        for i in 0..400 {
            let key = format!("user:w{i}");
            match con.set::<_, _, ()>(&key, i).await {
                Ok(()) => acked.push(key),
                Err(e) if e.code() == Some("TRYAGAIN") => refused += 1,
                Err(e) => panic!("unexpected error for {key}: {e}"),
            }
        }
        (acked, refused)
    });
    let mut moved = BTreeSet::new();
    let created = loop {
        match admin(&mut con, &["CREATETABLE", "user"]).await {
            Ok(_) => break true,
            Err(e) if e.to_string().contains("starting with 'user:'") => {
                // Writes that landed in default first: delete them and retry.
                let stranded: Vec<String> = con.keys("user:*").await.unwrap();
                if !stranded.is_empty() {
                    let _: i64 = con.del(&stranded).await.unwrap();
                    moved.extend(stranded);
                }
            }
            Err(e) => panic!("CREATETABLE failed: {e}"),
        }
    };
    assert!(created);
    let (acked, refused) = writer.await.unwrap();
    eprintln!(
        "writer: {} acknowledged, {refused} refused with TRYAGAIN",
        acked.len()
    );

    let prefix = storage_key(0, b"user:");
    let prefix_end = storage_key(0, b"user;");
    for id in cluster.cluster.node_ids() {
        let (keys, _) = cluster.footprint(id, &prefix, &prefix_end).await.unwrap();
        assert_eq!(keys, 0, "node {id} holds user:* keys in default");
    }
    // Every acknowledged write the test did not delete itself is readable, from the
    // table.
    let kept: Vec<&String> = acked.iter().filter(|k| !moved.contains(*k)).collect();
    for key in &kept {
        let exists: bool = con.exists(key).await.unwrap();
        assert!(exists, "acknowledged {key} lost");
    }
    let info = admin(&mut con, &["TABLE", "INFO", "user"]).await.unwrap();
    assert_eq!(
        int(field(&info, "keys")),
        kept.len() as i64,
        "all of them live in table 'user'"
    );
    cluster.cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicas_5_table_survives_two_lost_nodes() {
    let mut cluster = TestCluster::start_nodes(5, RaftTimings::default()).await;
    let mut con = cluster.client().await;
    wait_for(Duration::from_secs(20), "five live nodes", || {
        let mut con = con.clone();
        async move {
            let nodes = admin(&mut con, &["NODES"]).await.ok()?;
            let Value::Array(nodes) = nodes else {
                return None;
            };
            let up = nodes
                .iter()
                .filter(|n| matches!(field(n, "state"), Value::BulkString(s) if s == b"up"))
                .count();
            (up == 5).then_some(())
        }
    })
    .await;
    admin(&mut con, &["CREATETABLE", "five", "REPLICAS", "5"])
        .await
        .unwrap();
    for i in 0..100 {
        let _: () = con.set(format!("five:{i}"), i).await.unwrap();
    }
    let ranges = admin(&mut con, &["RANGES", "five"]).await.unwrap();
    let Value::Array(ranges) = ranges else {
        panic!()
    };
    let Value::Array(replicas) = field(&ranges[0], "replicas") else {
        panic!()
    };
    assert_eq!(replicas.len(), 5);

    let group = int(field(&ranges[0], "group")) as u64;
    let leader = cluster.leader(group).await;
    let victims: Vec<u64> = std::iter::once(leader)
        .chain(
            cluster
                .cluster
                .node_ids()
                .into_iter()
                .filter(|n| *n != leader),
        )
        .take(2)
        .collect();
    for id in &victims {
        cluster.cluster.stop_node(*id).await.unwrap();
    }
    for i in 0..100 {
        assert_eq!(
            con.get::<_, i64>(format!("five:{i}")).await.unwrap(),
            i,
            "read after losing {victims:?}"
        );
    }
    let _: () = con.set("five:new", "still writable").await.unwrap();
    assert_eq!(
        con.get::<_, String>("five:new").await.unwrap(),
        "still writable"
    );
    cluster.cluster.shutdown().await.unwrap();
}

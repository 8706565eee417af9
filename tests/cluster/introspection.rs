//! Redis's introspection on a router, over real connections: CLIENT LIST sees every
//! connection and CLIENT KILL closes others, CLIENT PAUSE holds writes until UNPAUSE,
//! CLIENT REPLY silences replies, MONITOR streams commands, SLOWLOG and the statistics
//! record what ran.

use crate::harness::{wait_for, TestCluster};
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn named(cluster: &TestCluster, name: &str) -> (MultiplexedConnection, i64) {
    let mut con = cluster.client().await;
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query_async(&mut con)
        .await
        .unwrap();
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut con)
        .await
        .unwrap();
    (con, id)
}

async fn client_list(con: &mut MultiplexedConnection) -> String {
    redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(con)
        .await
        .unwrap()
}

/// Reads from a raw connection until `wanted` has arrived (or fails after 30 s).
async fn read_until(stream: &mut TcpStream, seen: &mut Vec<u8>, wanted: &str) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !String::from_utf8_lossy(seen).contains(wanted) {
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before {wanted:?}; got {seen:?}");
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} in {:?}", String::from_utf8_lossy(seen)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_list_kill_and_pause_act_on_every_connection() {
    let cluster = TestCluster::start().await;
    let (mut admin, admin_id) = named(&cluster, "admin").await;
    let (mut victim, victim_id) = named(&cluster, "victim").await;
    let (_other, other_id) = named(&cluster, "other").await;

    let list = client_list(&mut admin).await;
    for (id, name) in [
        (admin_id, "admin"),
        (victim_id, "victim"),
        (other_id, "other"),
    ] {
        let line = list
            .lines()
            .find(|l| l.starts_with(&format!("id={id} ")))
            .unwrap_or_else(|| panic!("client {id} in {list}"));
        assert!(line.contains(&format!(" name={name} ")), "{line}");
        assert!(line.contains(" addr=127.0.0.1:") && line.contains(" user=default "));
    }
    assert!(list.contains("cmd=client|list"), "{list}");
    let only: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(victim_id)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(only.lines().count(), 1, "{only}");

    // KILL ID closes that connection and only it.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(victim_id)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(killed, 1);
    let after: redis::RedisResult<String> = victim.get("k").await;
    assert!(after.is_err(), "a killed connection is closed");
    wait_for(
        Duration::from_secs(10),
        "the killed client to leave the list",
        || {
            let mut admin = admin.clone();
            async move {
                let list = client_list(&mut admin).await;
                (!list.contains(&format!("id={victim_id} "))).then_some(())
            }
        },
    )
    .await;
    // SKIPME yes (the default) spares the asker; USER default matches everyone else.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("USER")
        .arg("default")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(killed, 1, "only `other` was left besides the asker");
    let pong: String = redis::cmd("PING").query_async(&mut admin).await.unwrap();
    assert_eq!(pong, "PONG");

    // PAUSE WRITE holds writes of other connections, not reads, until UNPAUSE.
    let mut writer = cluster.client().await;
    let mut reader = cluster.client().await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query_async(&mut admin)
        .await
        .unwrap();
    let write = tokio::spawn(async move {
        let _: () = writer.set("paused", "v").await.unwrap();
    });
    let read: Option<String> = reader.get("paused").await.unwrap();
    assert_eq!(read, None, "reads pass a WRITE pause; the write waits");
    assert!(!write.is_finished());
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query_async(&mut admin)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), write)
        .await
        .expect("the write goes on after UNPAUSE")
        .unwrap();
    let read: Option<String> = reader.get("paused").await.unwrap();
    assert_eq!(read.as_deref(), Some("v"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_modes_monitor_slowlog_and_statistics() {
    let cluster = TestCluster::start().await;
    let addr = cluster.url().trim_start_matches("redis://").to_string();

    // CLIENT REPLY OFF silences everything until ON; SKIP only the next reply.
    let mut raw = TcpStream::connect(&addr).await.unwrap();
    raw.write_all(
        b"CLIENT REPLY OFF\r\nSET r1 a\r\nGET r1\r\nCLIENT REPLY ON\r\nGET r1\r\n\
          CLIENT REPLY SKIP\r\nGET r1\r\nECHO last\r\n",
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    read_until(&mut raw, &mut seen, "last\r\n").await;
    assert_eq!(
        String::from_utf8_lossy(&seen),
        "+OK\r\n$1\r\na\r\n$4\r\nlast\r\n"
    );

    // MONITOR streams the commands of other connections.
    let mut monitor = TcpStream::connect(&addr).await.unwrap();
    monitor.write_all(b"MONITOR\r\n").await.unwrap();
    let mut lines = Vec::new();
    read_until(&mut monitor, &mut lines, "+OK\r\n").await;
    let mut con = cluster.client().await;
    let _: () = con.set("watched", "a b\"c").await.unwrap();
    read_until(&mut monitor, &mut lines, r#""SET" "watched" "a b\"c""#).await;
    let text = String::from_utf8_lossy(&lines).to_string();
    let line = text.lines().find(|l| l.contains("watched")).unwrap();
    assert!(
        line.starts_with('+') && line.contains(" [0 127.0.0.1:"),
        "{line}"
    );
    monitor.write_all(b"GET watched\r\nPING\r\n").await.unwrap();
    read_until(&mut monitor, &mut lines, "+PONG\r\n").await;
    assert!(
        String::from_utf8_lossy(&lines).contains("-ERR Replica can't interact with the keyspace")
    );

    // SLOWLOG with a threshold of 0 logs every command, newest first.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(0)
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = redis::cmd("SLOWLOG")
        .arg("RESET")
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = con.set("slow", "v").await.unwrap();
    let entries: Vec<(i64, i64, i64, Vec<String>, String, String)> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(1)
        .query_async(&mut con)
        .await
        .unwrap();
    let (_, when, micros, args, client, _) = &entries[0];
    assert_eq!(args, &["SET", "slow", "v"]);
    assert!(*when > 1_700_000_000 && *micros >= 0 && client.starts_with("127.0.0.1:"));

    // The statistics moved: calls, a failure, an error code, a histogram.
    let _: redis::RedisResult<i64> = con.incr("slow", 1).await;
    let info: String = redis::cmd("INFO")
        .arg("everything")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(info.contains("cmdstat_set:calls="), "{info}");
    assert!(info.contains("cmdstat_incrby:calls=1,") && info.contains("failed_calls=1"));
    assert!(info.contains("errorstat_ERR:count="));
    assert!(info.contains("latency_percentiles_usec_set:p50="));
    assert!(info.contains("total_error_replies:") && info.contains("total_net_input_bytes:"));

    let histogram: redis::Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(
        format!("{histogram:?}").contains("histogram_usec"),
        "{histogram:?}"
    );

    // INFO stats counts every command and byte, and CONFIG RESETSTAT starts it afresh.
    let stats = info_field::<u64>;
    let before = gets_then_stats(&mut con, 0).await;
    let after = gets_then_stats(&mut con, 10).await;
    for (name, by) in [
        ("total_commands_processed", 10),
        ("total_net_input_bytes", 10 * 20),
        ("total_net_output_bytes", 10 * 5),
    ] {
        let (b, a) = (stats(&before, name), stats(&after, name));
        assert!(a >= b + by, "{name}: {b} -> {a}");
    }
    assert!(stats(&after, "total_error_replies") >= 1);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut con)
        .await
        .unwrap();
    let reset = gets_then_stats(&mut con, 0).await;
    assert_eq!(stats(&reset, "total_error_replies"), 0, "{reset}");
    assert!(stats(&reset, "total_commands_processed") <= 2, "{reset}");

    // INFO's instantaneous rates follow the load of the last moments (sampled every
    // 100 ms): under commands, they rise above zero.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let info = gets_then_stats(&mut con, 50).await;
        let kbps = |name| info_field::<f64>(&info, name);
        if stats(&info, "instantaneous_ops_per_sec") > 0
            && kbps("instantaneous_input_kbps") > 0.0
            && kbps("instantaneous_output_kbps") > 0.0
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no instantaneous rates under load: {info}"
        );
    }
}

/// The value of field `name` in an INFO reply.
fn info_field<T: std::str::FromStr>(info: &str, name: &str) -> T {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {info}"))
}

/// `INFO stats` after `gets` GETs.
async fn gets_then_stats(con: &mut MultiplexedConnection, gets: usize) -> String {
    for _ in 0..gets {
        let _: Option<String> = con.get("slow").await.unwrap();
    }
    redis::cmd("INFO")
        .arg("stats")
        .query_async(con)
        .await
        .unwrap()
}

/// INFO's `keyspace_hits` and `keyspace_misses` count the keys read commands look up,
/// as Redis counts them: a key of another type is found, an expired key is not, writes
/// are not counted, and CONFIG RESETSTAT starts the counts over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_hits_and_misses_count_read_lookups() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    let _: () = con.set("here", "v").await.unwrap();
    let _: () = con.hset("hash", "f", "v").await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("v")
        .arg("PX")
        .arg(20)
        .query_async(&mut con)
        .await
        .unwrap();
    wait_for(Duration::from_secs(10), "the key to expire", || {
        let mut probe = con.clone();
        async move { (!probe.exists::<_, bool>("gone").await.unwrap()).then_some(()) }
    })
    .await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut con)
        .await
        .unwrap();
    let counts = |info: &str| {
        (
            info_field::<u64>(info, "keyspace_hits"),
            info_field::<u64>(info, "keyspace_misses"),
        )
    };
    assert_eq!(counts(&gets_then_stats(&mut con, 0).await), (0, 0));

    // Hits: here, hash (WRONGTYPE), here twice, hash (a missing field), here, here.
    // Misses: nothing, gone, nothing, nohash, nothing, nothing.
    for key in ["here", "nothing", "gone"] {
        let _: Option<String> = con.get(key).await.unwrap();
    }
    let wrongtype: redis::RedisResult<Option<String>> = con.get("hash").await;
    assert!(wrongtype.is_err());
    let _: Vec<Option<String>> = con.mget(&["here", "nothing", "here"]).await.unwrap();
    let _: Option<String> = con.hget("hash", "nofield").await.unwrap();
    let _: Option<String> = con.hget("nohash", "f").await.unwrap();
    let _: u64 = redis::cmd("EXISTS")
        .arg("here")
        .arg("nothing")
        .query_async(&mut con)
        .await
        .unwrap();
    // A read-only transaction counts its commands' keys, not the watched one.
    let _: () = redis::cmd("WATCH")
        .arg("hash")
        .query_async(&mut con)
        .await
        .unwrap();
    let (_, _): (Option<String>, Option<String>) = redis::pipe()
        .atomic()
        .get("here")
        .get("nothing")
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = con.set("written", "v").await.unwrap();
    let _: u64 = con.del("here").await.unwrap();
    assert_eq!(counts(&gets_then_stats(&mut con, 0).await), (7, 6));

    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(counts(&gets_then_stats(&mut con, 0).await), (0, 0));
}

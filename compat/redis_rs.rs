//! redis-rs against a real `tessera dev`, in RESP2 and RESP3: every supported command
//! through the client's typed API or `redis::cmd`, with results as a Rust program would
//! read them.

#[path = "../tests/harness/mod.rs"]
mod harness;

use harness::process::DevProcess;
use harness::{connect, wait_serving};
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, ExistenceCheck, SetExpiry, SetOptions, Value};
use std::time::Duration;

async fn strings(con: &mut MultiplexedConnection) {
    let _: () = con.set("s", "v").await.unwrap();
    assert_eq!(con.get::<_, String>("s").await.unwrap(), "v");
    let opts = SetOptions::default()
        .conditional_set(ExistenceCheck::XX)
        .get(true)
        .with_expiration(SetExpiry::EX(100));
    assert_eq!(
        con.set_options::<_, _, Option<String>>("s", "w", opts)
            .await
            .unwrap(),
        Some("v".into())
    );
    assert!((99..=100).contains(&con.ttl::<_, i64>("s").await.unwrap()));
    assert!(!con.set_nx::<_, _, bool>("s", "x").await.unwrap());
    let _: () = con.set_ex("ex", "v", 100).await.unwrap();
    let _: () = con.pset_ex("px", "v", 100_000).await.unwrap();
    assert_eq!(con.getset::<_, _, String>("s", "z").await.unwrap(), "w");
    assert_eq!(con.get_del::<_, String>("s").await.unwrap(), "z");
    assert_eq!(
        con.get_ex::<_, String>("ex", redis::Expiry::PERSIST)
            .await
            .unwrap(),
        "v"
    );
    assert_eq!(con.ttl::<_, i64>("ex").await.unwrap(), -1);
    let _: () = con.mset(&[("a", "1"), ("b", "2")]).await.unwrap();
    assert_eq!(
        con.mget::<_, Vec<Option<String>>>(&["a", "nope", "b"])
            .await
            .unwrap(),
        vec![Some("1".into()), None, Some("2".into())]
    );
    assert!(!con
        .mset_nx::<_, _, bool>(&[("a", "x"), ("c", "y")])
        .await
        .unwrap());
    assert_eq!(con.append::<_, _, i64>("a", "23").await.unwrap(), 3);
    assert_eq!(con.strlen::<_, i64>("a").await.unwrap(), 3);
    assert_eq!(con.incr::<_, _, i64>("n", 5).await.unwrap(), 5);
    assert_eq!(con.decr::<_, _, i64>("n", 2).await.unwrap(), 3);
    assert_eq!(
        redis::cmd("INCR")
            .arg("n")
            .query_async::<i64>(con)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        redis::cmd("DECR")
            .arg("n")
            .query_async::<i64>(con)
            .await
            .unwrap(),
        3
    );
    assert_eq!(con.incr::<_, _, f64>("f", 1.5).await.unwrap(), 1.5);
    let _: () = con.set("r", "Hello World").await.unwrap();
    assert_eq!(con.getrange::<_, String>("r", 0, 4).await.unwrap(), "Hello");
    assert_eq!(
        redis::cmd("SUBSTR")
            .arg("r")
            .arg(-5)
            .arg(-1)
            .query_async::<String>(con)
            .await
            .unwrap(),
        "World"
    );
    assert_eq!(
        con.setrange::<_, _, i64>("r", 6, "Redis").await.unwrap(),
        11
    );
    let _: () = con.set("l1", "ohmytext").await.unwrap();
    let _: () = con.set("l2", "mynewtext").await.unwrap();
    assert_eq!(
        redis::cmd("LCS")
            .arg("l1")
            .arg("l2")
            .query_async::<String>(con)
            .await
            .unwrap(),
        "mytext"
    );
    assert_eq!(
        redis::cmd("LCS")
            .arg("l1")
            .arg("l2")
            .arg("LEN")
            .query_async::<i64>(con)
            .await
            .unwrap(),
        6
    );
    let idx: Value = redis::cmd("LCS")
        .arg("l1")
        .arg("l2")
        .arg("IDX")
        .query_async(con)
        .await
        .unwrap();
    assert!(matches!(idx, Value::Array(_) | Value::Map(_)), "{idx:?}");
}

async fn keyspace_and_expiry(con: &mut MultiplexedConnection) {
    let _: () = con
        .mset(&[("k1", "a"), ("k2", "b"), ("k3", "c")])
        .await
        .unwrap();
    assert_eq!(
        con.exists::<_, i64>(&["k1", "k2", "nope"]).await.unwrap(),
        2
    );
    assert_eq!(con.key_type::<_, String>("k1").await.unwrap(), "string");
    assert_eq!(con.del::<_, i64>("k1").await.unwrap(), 1);
    assert_eq!(con.unlink::<_, i64>("k2").await.unwrap(), 1);
    assert_eq!(
        redis::cmd("TOUCH")
            .arg("k3")
            .arg("nope")
            .query_async::<i64>(con)
            .await
            .unwrap(),
        1
    );
    let _: () = con.rename("k3", "k4").await.unwrap();
    assert!(con.rename_nx::<_, _, bool>("k4", "k5").await.unwrap());
    assert!(redis::cmd("COPY")
        .arg("k5")
        .arg("k6")
        .query_async::<bool>(con)
        .await
        .unwrap());
    assert_eq!(
        con.keys::<_, Vec<String>>("k*").await.unwrap(),
        vec!["k5".to_string(), "k6".to_string()]
    );
    assert!(redis::cmd("RANDOMKEY")
        .query_async::<Option<String>>(con)
        .await
        .unwrap()
        .is_some());
    let mut iter = con.scan_match::<_, String>("k*").await.unwrap();
    let mut scanned = Vec::new();
    while let Some(key) = iter.next_item().await {
        scanned.push(key.unwrap());
    }
    drop(iter);
    assert_eq!(scanned, vec!["k5".to_string(), "k6".to_string()]);

    assert!(con.expire::<_, bool>("k5", 100).await.unwrap());
    assert!(con.pexpire::<_, bool>("k5", 200_000).await.unwrap());
    assert!(con.expire_at::<_, bool>("k6", 4_102_444_800).await.unwrap());
    assert!(con
        .pexpire_at::<_, bool>("k6", 4_102_444_800_000)
        .await
        .unwrap());
    assert_eq!(
        con.expire_time::<_, i64>("k6").await.unwrap(),
        4_102_444_800
    );
    assert_eq!(
        con.pexpire_time::<_, i64>("k6").await.unwrap(),
        4_102_444_800_000
    );
    assert!((199..=200).contains(&con.ttl::<_, i64>("k5").await.unwrap()));
    assert!(con.pttl::<_, i64>("k5").await.unwrap() > 190_000);
    assert!(con.persist::<_, bool>("k5").await.unwrap());
    assert_eq!(con.ttl::<_, i64>("k5").await.unwrap(), -1);
}

async fn transactions_and_server(con: &mut MultiplexedConnection) {
    let _: () = redis::cmd("WATCH").arg("t").query_async(con).await.unwrap();
    let _: () = redis::cmd("UNWATCH").query_async(con).await.unwrap();
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("t", 1)
        .incr("t", 2)
        .query_async(con)
        .await
        .unwrap();
    assert_eq!((a, b), (1, 3));
    let _: () = redis::cmd("MULTI").query_async(con).await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("x")
        .query_async(con)
        .await
        .unwrap();
    let _: () = redis::cmd("DISCARD").query_async(con).await.unwrap();
    assert_eq!(con.get::<_, Option<String>>("gone").await.unwrap(), None);

    assert_eq!(
        redis::cmd("PING").query_async::<String>(con).await.unwrap(),
        "PONG"
    );
    assert_eq!(
        redis::cmd("ECHO")
            .arg("hi")
            .query_async::<String>(con)
            .await
            .unwrap(),
        "hi"
    );
    let _: () = redis::cmd("SELECT").arg(0).query_async(con).await.unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("rs")
        .query_async(con)
        .await
        .unwrap();
    assert_eq!(
        redis::cmd("CLIENT")
            .arg("GETNAME")
            .query_async::<String>(con)
            .await
            .unwrap(),
        "rs"
    );
    assert!(
        redis::cmd("CLIENT")
            .arg("ID")
            .query_async::<i64>(con)
            .await
            .unwrap()
            > 0
    );
    assert!(
        redis::cmd("COMMAND")
            .arg("COUNT")
            .query_async::<i64>(con)
            .await
            .unwrap()
            >= 60
    );
    let info: redis::InfoDict = redis::cmd("INFO").query_async(con).await.unwrap();
    assert_eq!(
        info.get::<String>("redis_version").as_deref(),
        Some("7.0.15")
    );
    let time: (String, String) = redis::cmd("TIME").query_async(con).await.unwrap();
    assert!(time.0.parse::<u64>().unwrap() > 1_700_000_000);
    let _: () = redis::cmd("FLUSHDB").query_async(con).await.unwrap();
    assert_eq!(
        redis::cmd("DBSIZE").query_async::<i64>(con).await.unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_through_redis_rs_in_resp2_and_resp3() {
    let dir = tempfile::tempdir().unwrap();
    let dev = DevProcess::start(&dir.path().join("data"));
    wait_serving(&dev.url(), Duration::from_secs(30)).await;
    for url in [dev.url(), format!("{}/?protocol=resp3", dev.url())] {
        let mut con = connect(&url).await;
        let _: () = redis::cmd("FLUSHALL").query_async(&mut con).await.unwrap();
        strings(&mut con).await;
        keyspace_and_expiry(&mut con).await;
        transactions_and_server(&mut con).await;
    }
}

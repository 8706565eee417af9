//! Commands over several keys when a table has several ranges: the ones that can be
//! split fan out per range; the others (and transactions) need one range and otherwise
//! answer CROSSSLOT with nothing applied.

use crate::harness::TestCluster;
use crate::tables::admin;
use redis::{AsyncCommands, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_key_commands_fan_out_and_cross_range_ones_are_refused_whole() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    admin(&mut con, &["CREATETABLE", "t", "SPLITS", "m"])
        .await
        .unwrap();
    // t:a and t:z live in different ranges (and groups); plain keys in default.
    let _: () = con
        .mset(&[("t:a", "1"), ("t:z", "2"), ("plain", "3")])
        .await
        .unwrap();
    let values: Vec<Option<String>> = con.mget(&["t:z", "nope", "t:a", "plain"]).await.unwrap();
    assert_eq!(
        values,
        vec![Some("2".into()), None, Some("1".into()), Some("3".into())]
    );
    assert_eq!(
        con.exists::<_, i64>(&["t:a", "t:z", "plain", "t:a"])
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        redis::cmd("TOUCH")
            .arg("t:a")
            .arg("t:z")
            .query_async::<i64>(&mut con)
            .await
            .unwrap(),
        2
    );

    let crossslot = |e: redis::RedisError| {
        assert_eq!(e.code(), Some("CROSSSLOT"), "{e}");
    };
    crossslot(con.rename::<_, _, ()>("t:a", "t:zz").await.unwrap_err());
    crossslot(
        redis::cmd("COPY")
            .arg("t:a")
            .arg("t:zz")
            .query_async::<i64>(&mut con)
            .await
            .unwrap_err(),
    );
    crossslot(
        con.mset_nx::<_, _, i64>(&[("t:b", "x"), ("t:y", "y")])
            .await
            .unwrap_err(),
    );
    crossslot(
        redis::cmd("BITOP")
            .arg("OR")
            .arg("t:dest")
            .arg("t:a")
            .arg("t:z")
            .query_async::<i64>(&mut con)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        con.exists::<_, i64>(&["t:zz", "t:b", "t:y", "t:dest"])
            .await
            .unwrap(),
        0,
        "nothing applied"
    );
    let same_range: i64 = redis::cmd("BITOP")
        .arg("OR")
        .arg("t:y")
        .arg("t:z")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(same_range, 1, "BITOP within one range runs");

    // A transaction spanning ranges fails at EXEC before anything is applied.
    let _: () = redis::cmd("MULTI").query_async(&mut con).await.unwrap();
    let _: () = redis::cmd("SET")
        .arg("t:a")
        .arg("changed")
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("t:z")
        .arg("changed")
        .query_async(&mut con)
        .await
        .unwrap();
    crossslot(
        redis::cmd("EXEC")
            .query_async::<Value>(&mut con)
            .await
            .unwrap_err(),
    );
    let values: Vec<String> = con.mget(&["t:a", "t:z"]).await.unwrap();
    assert_eq!(
        values,
        vec!["1".to_string(), "2".to_string()],
        "no partial apply"
    );
    // Within one range it commits.
    let (a, b): (String, String) = redis::pipe()
        .atomic()
        .set("t:a", "x")
        .ignore()
        .get("t:a")
        .get("t:b")
        .query_async(&mut con)
        .await
        .map(|(a, b): (String, Option<String>)| (a, b.unwrap_or_default()))
        .unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("x", ""));

    assert_eq!(
        con.del::<_, i64>(&["t:a", "t:z", "plain", "nope"])
            .await
            .unwrap(),
        3
    );
    cluster.cluster.shutdown().await.unwrap();
}

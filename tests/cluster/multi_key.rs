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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_and_sorted_set_reads_span_ranges_and_their_store_forms_do_not() {
    let cluster = TestCluster::start().await;
    let mut con = cluster.client().await;
    admin(&mut con, &["CREATETABLE", "t", "SPLITS", "m"])
        .await
        .unwrap();
    // t:a and t:z live in different ranges; plain keys in the default table.
    let _: i64 = con.sadd("t:a", &["1", "2", "3"]).await.unwrap();
    let _: i64 = con.sadd("t:z", &["2", "3", "4"]).await.unwrap();
    let _: i64 = con.sadd("plain", &["3", "9"]).await.unwrap();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let inter: Vec<String> = con.sinter(&["t:a", "t:z", "plain"]).await.unwrap();
    assert_eq!(sorted(inter), vec!["3"]);
    let union: Vec<String> = con.sunion(&["t:a", "t:z"]).await.unwrap();
    assert_eq!(sorted(union), vec!["1", "2", "3", "4"]);
    let diff: Vec<String> = con.sdiff(&["t:a", "t:z"]).await.unwrap();
    assert_eq!(diff, vec!["1"]);
    let card: i64 = redis::cmd("SINTERCARD")
        .arg(2)
        .arg("t:a")
        .arg("t:z")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(card, 2);

    let _: i64 = con
        .zadd_multiple("t:b", &[(1, "x"), (2, "y")])
        .await
        .unwrap();
    let _: i64 = con
        .zadd_multiple("t:y", &[(10, "y"), (20, "w")])
        .await
        .unwrap();
    let union: Vec<(String, f64)> = redis::cmd("ZUNION")
        .arg(3)
        .arg("t:b")
        .arg("t:y")
        .arg("t:a")
        .arg("WITHSCORES")
        .query_async(&mut con)
        .await
        .unwrap();
    let expected: Vec<(String, f64)> = [
        ("1", 1.0),
        ("2", 1.0),
        ("3", 1.0),
        ("x", 1.0),
        ("y", 12.0),
        ("w", 20.0),
    ]
    .iter()
    .map(|(m, s)| (m.to_string(), *s))
    .collect();
    assert_eq!(union, expected);
    let inter: Vec<String> = redis::cmd("ZINTER")
        .arg(2)
        .arg("t:b")
        .arg("t:y")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(inter, vec!["y"]);
    // A wrong type in another range answers WRONGTYPE.
    let _: () = con.set("t:s", "string").await.unwrap();
    let err = con
        .sunion::<_, Vec<String>>(&["t:a", "t:s"])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"), "{err}");
    // A STORE form writes a destination: one range, else CROSSSLOT and nothing stored.
    let err = con
        .sinterstore::<_, _, i64>("t:dst", &["t:a", "t:z"])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("CROSSSLOT"), "{err}");
    assert_eq!(con.exists::<_, i64>("t:dst").await.unwrap(), 0);
    cluster.cluster.shutdown().await.unwrap();
}

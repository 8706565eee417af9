//! Unit tests of the command layer.

use super::*;

#[test]
fn compatibility_doc_matches_command_table() {
    let doc = include_str!("../../../docs/compatibility.md");
    let mut documented: Vec<String> = doc
        .lines()
        .filter(|l| l.contains("| supported |") || l.contains("| partial |"))
        .filter_map(|l| l.split('`').nth(1))
        .map(str::to_ascii_lowercase)
        .collect();
    documented.sort();
    let listed: Vec<String> = COMMANDS.iter().map(|c| c.spec.name.to_string()).collect();
    assert_eq!(
        documented, listed,
        "docs/compatibility.md disagrees with COMMAND LIST"
    );
}

#[test]
fn command_table_is_sorted_for_lookup() {
    assert!(COMMANDS.windows(2).all(|w| w[0].spec.name < w[1].spec.name));
    assert!(lookup("set").is_some() && lookup("nosuch").is_none());
}

#[test]
fn entry_of_ignores_case_and_rejects_what_is_no_name() {
    let entry = |name: &[u8]| entry_of(&[Bytes::copy_from_slice(name)]).map(|e| e.spec.name);
    assert_eq!(entry(b"GeT"), Some("get"));
    assert_eq!(entry(b"ZREMRANGEBYSCORE"), Some("zremrangebyscore"));
    assert_eq!(entry(b"g\xc3\xa9t"), None);
    assert_eq!(entry(&[b'a'; 40]), None);
    assert_eq!(entry(b""), None);
    assert!(entry_of(&[]).is_none());
    // The stack buffer holds every name.
    assert!(COMMANDS.iter().all(|e| e.spec.name.len() <= 32));
}

#[test]
fn key_positions_follow_the_spec() {
    let args: Vec<Bytes> = ["DEL", "a", "b", "c"]
        .into_iter()
        .map(Bytes::from)
        .collect();
    assert_eq!(
        lookup("del").unwrap().spec.keys(&args).unwrap(),
        args[1..].to_vec()
    );
    let mset: Vec<Bytes> = ["MSET", "k1", "v1", "k2", "v2"]
        .into_iter()
        .map(Bytes::from)
        .collect();
    assert_eq!(
        lookup("mset").unwrap().spec.keys(&mset).unwrap(),
        vec![Bytes::from("k1"), Bytes::from("k2")]
    );
    assert!(lookup("dbsize")
        .unwrap()
        .spec
        .keys(&[Bytes::from("DBSIZE")])
        .is_none());
}

#[test]
fn writes_to_a_common_key_conflict_reads_do_not() {
    let keys = |k: &[&str]| Keys::Many(k.iter().map(|s| Bytes::from(s.to_string())).collect());
    let write_a = Access {
        write: true,
        keys: keys(&["a"]),
    };
    let read_a = Access {
        write: false,
        keys: keys(&["a"]),
    };
    let read_b = Access {
        write: false,
        keys: keys(&["b"]),
    };
    let scan = Access {
        write: false,
        keys: Keys::All,
    };
    let write_one_a = Access {
        write: true,
        keys: Keys::One(Bytes::from("a")),
    };
    assert!(read_a.conflicts_with(&write_a));
    assert!(!read_b.conflicts_with(&write_a));
    assert!(!read_a.conflicts_with(&read_a));
    assert!(scan.conflicts_with(&write_a));
    assert!(!scan.conflicts_with(&read_b));
    assert!(read_a.conflicts_with(&write_one_a));
    assert!(!read_b.conflicts_with(&write_one_a));
}

#[test]
fn keys_of_a_request_follow_its_spec() {
    let args = |a: &[&str]| {
        a.iter()
            .map(|s| Bytes::from(s.to_string()))
            .collect::<Vec<_>>()
    };
    let keys = |name: &str, a: &[&str]| Keys::of(lookup(name).unwrap().spec, &args(a));
    assert!(matches!(keys("get", &["GET", "k"]), Keys::One(k) if k == "k"));
    assert!(matches!(keys("set", &["SET", "k", "v", "EX", "1"]), Keys::One(k) if k == "k"));
    assert!(
        matches!(keys("mset", &["MSET", "a", "1", "b", "2"]), Keys::Many(k) if k == ["a", "b"])
    );
    assert!(matches!(keys("del", &["DEL", "a", "b", "c"]), Keys::Many(k) if k == ["a", "b", "c"]));
    assert!(matches!(keys("dbsize", &["DBSIZE"]), Keys::All));
}

#[test]
fn unknown_command_text_matches_redis() {
    let args: Vec<Bytes> = ["foo", "a", "b"].into_iter().map(Bytes::from).collect();
    assert_eq!(
        unknown_command(&args),
        Reply::Error("ERR unknown command 'foo', with args beginning with: 'a' 'b' ".into())
    );
}

/// The bytes of the future `F` that `make` would return (without calling it).
fn future_size<F: std::future::Future>(_make: impl FnOnce() -> F) -> usize {
    std::mem::size_of::<F>()
}

#[test]
fn a_data_request_future_stays_small() {
    // Every request's future is moved into a box of its size: common paths must not
    // carry the state of rare ones (a blocked pop, a combine across ranges, the first
    // call before the catalog is known). It was 3,144 bytes before they were boxed
    // apart, and each GET copied all of it.
    // Never called: only the type of the future matters.
    let ctx: Option<&Context> = std::hint::black_box(None);
    let get =
        || tessera_proto::op::Op::Get(tessera_proto::commands::strings::Get { key: Bytes::new() });
    let run = future_size(|| data::run(ctx.unwrap(), get()));
    assert!(run <= 1280, "data::run's future is {run} bytes");
}

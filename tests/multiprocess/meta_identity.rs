//! `--initial-cluster-state existing`: a meta member that ran before starts from its
//! data directory, and one whose directory is empty (its votes lost) refuses to start.

use crate::cluster::{single_meta, use_secret, SECRET};
use crate::harness::process::free_port;
use crate::harness::{test_dir, wait_for};
use std::process::Command;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_member_with_an_empty_directory_refuses_to_start() {
    use_secret();
    let dir = test_dir();
    let data = dir.path().join("meta1");
    let log = dir.path().join("meta.log");
    let addr = format!("127.0.0.1:{}", free_port());
    let meta = |state: &str, data: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["meta", "--id", "1", "--members", &format!("1={addr}")])
            .args(["--http", "off", "--initial-cluster-state", state])
            .arg("--data-dir")
            .arg(data)
            .env("TESSERA_CLUSTER_SECRET", SECRET)
            .output()
            .expect("run tessera meta")
    };
    // Declared existing, but the directory is empty: refused, with the reason.
    let refused = meta("existing", &data);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--initial-cluster-state existing") && stderr.contains("holds no state"),
        "{stderr}"
    );
    // Formed once as `new`, the same member restarts as `existing` from its data.
    let mut first = single_meta(&addr, &data, &log);
    // It answers once it has formed the group (its vote and membership are on disk).
    let meta = tessera_proto::MetaClient::new([addr.clone()]);
    wait_for(
        Duration::from_secs(30),
        "the meta member to serve",
        || async { meta.full_catalog().await.ok() },
    )
    .await;
    first.kill();
    let mut args: Vec<String> = ["meta", "--id", "1", "--members"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend([
        format!("1={addr}"),
        "--cluster-secret".into(),
        SECRET.into(),
        "--initial-cluster-state".into(),
        "existing".into(),
        "--data-dir".into(),
        data.to_str().unwrap().into(),
    ]);
    // It says it listens only once the check passed.
    let mut again = crate::harness::process::Service::start(&args, &log);
    again.kill();
}

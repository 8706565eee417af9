//! The web console in a real browser (headless Chromium, as installed by
//! `scripts/test`): the page loads and shows the cluster's node and range counts, keeps
//! updating itself, shows load during a write burst, and shows a stopped node down.

use crate::harness::TestCluster;
use redis::AsyncCommands;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The page's DOM after Chromium ran it for a few (virtual) seconds.
fn render(url: &str) -> String {
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=3000",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("chromium runs (scripts/test installs Debian's chromium package)");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The text of the element with `id` in `dom`.
fn text_of(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!("id=\"{id}\""))?;
    let rest = &dom[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(rest[start..start + end].to_string())
}

fn number(dom: &str, id: &str) -> Option<f64> {
    text_of(dom, id)?.trim().parse().ok()
}

/// Renders the page until `check` holds (or fails after `limit`).
async fn until(url: &str, what: &str, limit: Duration, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let url = url.to_string();
        let dom = tokio::task::spawn_blocking(move || render(&url))
            .await
            .unwrap();
        if check(&dom) {
            return dom;
        }
        assert!(
            Instant::now() < deadline,
            "the console never showed {what}:\n{dom}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_cluster_and_follows_it_in_a_browser() {
    let mut cluster = TestCluster::start().await;
    let console = tessera::console::Console::new(vec![cluster.cluster.meta_addr().to_string()]);
    let stop = CancellationToken::new();
    let http = tessera::http::start("127.0.0.1:0", Some(console.handler()), stop.clone())
        .await
        .unwrap()
        .unwrap();
    let url = format!("http://{http}/");
    let ranges = cluster.catalog().await.ranges.len() as f64;

    let dom = until(
        &url,
        "3 nodes up and every range",
        Duration::from_secs(60),
        |d| {
            number(d, "node-count") == Some(3.0)
                && number(d, "nodes-up") == Some(3.0)
                && number(d, "range-count") == Some(ranges)
        },
    )
    .await;
    assert!(
        dom.contains("ActivateTable"),
        "the controller timeline: {dom}"
    );
    let refreshes = dom
        .split("data-refreshes=\"")
        .nth(1)
        .and_then(|r| r.split('"').next()?.parse::<u32>().ok())
        .unwrap_or(0);
    assert!(
        refreshes >= 2,
        "the page polls by itself ({refreshes} refreshes)"
    );

    // A write burst shows as requests per second while it lasts.
    let writing = Arc::new(AtomicBool::new(true));
    let mut con = cluster.client().await;
    let burst = tokio::spawn({
        let writing = writing.clone();
        async move {
            for i in 0..200_000u32 {
                if !writing.load(Ordering::Relaxed) {
                    break;
                }
                let _: () = con.set(format!("burst{}", i % 1000), i).await.unwrap();
            }
        }
    });
    until(
        &url,
        "load from the write burst",
        Duration::from_secs(60),
        |d| number(d, "qps").is_some_and(|q| q > 0.0),
    )
    .await;
    writing.store(false, Ordering::Relaxed);
    burst.await.unwrap();

    // A stopped node shows as down (once the meta service has missed its heartbeats).
    cluster.cluster.stop_node(3).await.unwrap();
    let dom = until(&url, "node 3 down", Duration::from_secs(90), |d| {
        number(d, "nodes-up") == Some(2.0)
    })
    .await;
    assert!(dom.contains("<td class=\"down\">down</td>"), "{dom}");
    stop.cancel();
}

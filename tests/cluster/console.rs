//! The web console in a real browser (headless Chromium, as installed by
//! `scripts/test`): one page, opened once and never reloaded, shows the cluster's node
//! and range counts, then follows a write burst and a stopped node by itself.

use crate::browser::Browser;
use crate::harness::TestCluster;
use redis::AsyncCommands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Reads the open page until `check` holds (or fails after `limit`, with the page).
fn until(browser: &mut Browser, what: &str, limit: Duration, check: impl Fn(&mut Browser) -> bool) {
    let deadline = Instant::now() + limit;
    tokio::task::block_in_place(|| loop {
        if check(browser) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the console never showed {what}:\n{}",
            browser.html()
        );
        std::thread::sleep(Duration::from_millis(100));
    });
}

fn refreshes(browser: &mut Browser) -> u64 {
    let count = browser.eval("Number(document.body.dataset.refreshes)");
    count.as_u64().unwrap_or(0)
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

    let mut browser = tokio::task::block_in_place(|| Browser::open(&url));

    until(
        &mut browser,
        "3 nodes up and every range",
        Duration::from_secs(60),
        |b| {
            b.number("node-count") == Some(3.0)
                && b.number("nodes-up") == Some(3.0)
                && b.number("range-count") == Some(ranges)
        },
    );
    // A reload would lose this.
    tokio::task::block_in_place(|| browser.eval("window.openedOnce = 1"));
    until(
        &mut browser,
        "the controller timeline",
        Duration::from_secs(30),
        |b| {
            b.text("timeline")
                .is_some_and(|t| t.contains("ActivateTable"))
        },
    );
    let seen = tokio::task::block_in_place(|| refreshes(&mut browser));
    until(
        &mut browser,
        "a refresh by itself",
        Duration::from_secs(30),
        |b| refreshes(b) >= seen + 2,
    );

    // A write burst shows as requests per second while it lasts, on the same page.
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
        &mut browser,
        "load from the write burst",
        Duration::from_secs(60),
        |b| b.number("qps").is_some_and(|q| q > 0.0),
    );
    writing.store(false, Ordering::Relaxed);
    burst.await.unwrap();

    // A stopped node shows as down (once the meta service has missed its heartbeats),
    // still without a reload.
    cluster.cluster.stop_node(3).await.unwrap();
    until(&mut browser, "node 3 down", Duration::from_secs(90), |b| {
        b.number("nodes-up") == Some(2.0)
            && b.eval("document.querySelectorAll('#nodes td.down').length")
                .as_u64()
                == Some(1)
    });
    let marker = tokio::task::block_in_place(|| browser.eval("window.openedOnce"));
    assert_eq!(marker.as_u64(), Some(1), "the page was never reloaded");
    drop(browser);
    stop.cancel();
}

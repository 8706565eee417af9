//! A TCP proxy that can slow a link down: while `slow` is set, every chunk of bytes is
//! held 0–100 ms (50±50 ms), and one in ten is held 200 ms more (a lost packet's
//! retransmission). Order is kept. Used where the kernel has no `netem`.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy.
pub struct DelayProxy {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl DelayProxy {
    /// Listens on `bind` (port 0: any) and forwards every connection to `target`.
    pub fn start(bind: &str, target: String, slow: Arc<AtomicBool>) -> Self {
        let listener = std::net::TcpListener::bind(bind).expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let seed = Arc::new(AtomicU64::new(u64::from(addr.port()) | 1));
        let task = tokio::spawn(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            while let Ok((client, _)) = listener.accept().await {
                let (target, slow, seed) = (target.clone(), slow.clone(), seed.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = pump(cr, sw, slow.clone(), seed.clone());
                    let down = pump(sr, cw, slow, seed);
                    tokio::join!(up, down);
                });
            }
        });
        Self { addr, task }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn next(seed: &AtomicU64) -> u64 {
    let mut x = seed.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    seed.store(x, Ordering::Relaxed);
    x
}

/// Copies `from` to `to`, delaying chunks while `slow` is set.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    slow: Arc<AtomicBool>,
    seed: Arc<AtomicU64>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    let mut last_due = tokio::time::Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut due = tokio::time::Instant::now();
        if slow.load(Ordering::Relaxed) {
            let r = next(&seed);
            due += Duration::from_millis(r % 101);
            if (r >> 32).is_multiple_of(10) {
                due += Duration::from_millis(200);
            }
        }
        last_due = last_due.max(due);
        if tx.send((last_due, buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

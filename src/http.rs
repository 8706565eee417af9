//! Each process's HTTP address (`--http`): `/metrics` for Prometheus, and the web
//! console where the process can reach the meta service. A deliberately small HTTP/1.1
//! server: one `GET` per connection, `Connection: close`, bodies built whole.

use futures::future::BoxFuture;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// A client gets this long to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Latency buckets of every `_seconds` histogram: 50 µs to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];
/// Buckets of the count histograms (ops per proposal, entries per apply, waiters per
/// fsync).
const COUNT_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// The process's Prometheus recorder, installed on first use (one per process: in
/// `tessera dev` the meta member, the nodes and the router share it, told apart by
/// their metric names and `node` labels).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_ops".into()), COUNT_BUCKETS))
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_entries".into()), COUNT_BUCKETS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_waiters".into()), COUNT_BUCKETS)
            })
            .map(|b| {
                // Per-range gauges of ranges that left (or merged) disappear.
                b.idle_timeout(
                    metrics_util::MetricKindMask::GAUGE,
                    Some(Duration::from_secs(120)),
                )
            })
            .expect("valid buckets")
            .install_recorder()
            .expect("the only metrics recorder of this process");
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            })
            .expect("spawn the metrics upkeep thread");
        handle
    })
}

/// The Prometheus text of this process, with its CPU time and resident memory.
pub fn render_metrics() -> String {
    let handle = prometheus();
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        metrics::gauge!("process_cpu_seconds_total")
            .set(secs(usage.ru_utime) + secs(usage.ru_stime));
    }
    if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
        if let Some(pages) = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<f64>().ok())
        {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
            metrics::gauge!("process_resident_memory_bytes").set(pages * page);
        }
    }
    handle.render()
}

/// One HTTP response.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// `200 OK` with `body`.
    pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            content_type,
            body: body.into(),
        }
    }

    /// An error status with a plain-text reason.
    pub fn error(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: reason.into().into_bytes(),
        }
    }
}

/// Answers a request for `path` (with its query string).
pub type Handler = Arc<dyn Fn(String) -> BoxFuture<'static, Response> + Send + Sync>;

/// The routes every process serves: `/metrics`, then `more` for the rest.
pub fn routes(more: Option<Handler>) -> Handler {
    Arc::new(move |path: String| {
        let more = more.clone();
        Box::pin(async move {
            let route = path.split('?').next().unwrap_or_default().to_string();
            match (route.as_str(), more) {
                ("/metrics", _) => {
                    Response::ok("text/plain; version=0.0.4; charset=utf-8", render_metrics())
                }
                (_, Some(more)) => more(path).await,
                _ => Response::error(404, "not found: this process serves /metrics\n"),
            }
        })
    })
}

/// Serves HTTP on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, handler: Handler, shutdown: CancellationToken) {
    prometheus();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, handler.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Binds `addr` (`off`: none) and serves it in the background; the bound address.
///
/// # Errors
/// The address cannot be parsed or bound.
pub async fn start(
    addr: &str,
    more: Option<Handler>,
    shutdown: CancellationToken,
) -> io::Result<Option<std::net::SocketAddr>> {
    if addr == "off" {
        return Ok(None);
    }
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener, routes(more), shutdown));
    Ok(Some(bound))
}

async fn answer(mut stream: TcpStream, handler: Handler) {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 || head.len() + n > MAX_HEAD {
                return Err(io::Error::other("incomplete or oversized request"));
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok(())
    })
    .await;
    let response = match read {
        Ok(Ok(())) => {
            let text = String::from_utf8_lossy(&head);
            let mut words = text.split_whitespace();
            match (words.next(), words.next()) {
                (Some("GET" | "HEAD"), Some(path)) => handler(path.to_string()).await,
                (Some(_), Some(_)) => Response::error(405, "only GET is served\n"),
                _ => Response::error(400, "bad request\n"),
            }
        }
        _ => return,
    };
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let header = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    let _ = stream.write_all(header.as_bytes()).await;
    if !head.starts_with(b"HEAD") {
        let _ = stream.write_all(&response.body).await;
    }
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_metrics_and_refuses_other_paths() {
        prometheus();
        metrics::counter!("tessera_test_requests_total").increment(3);
        let shutdown = CancellationToken::new();
        let addr = start("127.0.0.1:0", None, shutdown.clone())
            .await
            .unwrap()
            .unwrap();
        let get = |path: &'static str| async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        let metrics = get("/metrics").await;
        assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
        assert!(
            metrics.contains("tessera_test_requests_total 3"),
            "{metrics}"
        );
        assert!(metrics.contains("process_cpu_seconds_total"));
        assert!(get("/nope").await.starts_with("HTTP/1.1 404"));
        shutdown.cancel();
    }
}

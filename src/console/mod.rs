//! The web console: one page (embedded in the binary, no CDN, no build step) served on
//! a process's `--http` address, and the JSON it polls every second. Any process that
//! can reach the meta service serves it: a sampler asks the meta leader for its
//! overview each second and keeps five minutes of history (throughput, p99 and each
//! range's requests/s for the heat map); the p99 comes from this process's own router
//! histograms when it runs a router.

use crate::http::{Handler, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tessera_proto::meta_api::Overview;
use tessera_proto::meta_client::MetaClient;

const PAGE: &str = include_str!("index.html");
/// Samples kept: five minutes, one a second.
const HISTORY: usize = 300;
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// One second of the cluster's life.
struct Sample {
    at_ms: u64,
    qps: f64,
    p99_ms: Option<f64>,
    ranges: Vec<(u64, f64)>,
}

#[derive(Default)]
struct State {
    overview: Option<Overview>,
    error: Option<String>,
    history: VecDeque<Sample>,
    /// The router latency buckets at the last sample (cumulative counts by bound).
    buckets: BTreeMap<String, f64>,
}

/// The console of one process.
pub struct Console {
    meta: Arc<MetaClient>,
    state: Mutex<State>,
    sampler: OnceLock<()>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A storage key as text: printable bytes as they are, others as `\xNN`.
fn show_key(key: &[u8]) -> String {
    let mut out = String::new();
    for &b in key {
        if b.is_ascii_graphic() || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The p99 (ms) of the router commands between two samples of the cumulative
/// latency buckets of `tessera_router_command_duration_seconds` (all commands).
fn p99_between(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Option<f64> {
    let mut deltas: Vec<(f64, f64)> = after
        .iter()
        .filter_map(|(le, n)| {
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, n - before.get(le).copied().unwrap_or(0.0)))
        })
        .collect();
    deltas.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = deltas.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let bound = deltas.iter().find(|(_, n)| *n >= total * 0.99)?.0;
    Some(if bound.is_finite() {
        bound * 1000.0
    } else {
        10_000.0
    })
}

/// This process's cumulative router latency buckets, summed over commands.
fn router_buckets() -> BTreeMap<String, f64> {
    let text = crate::http::render_metrics();
    let mut buckets = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("tessera_router_command_duration_seconds_bucket{")
        else {
            continue;
        };
        let Some(le) = rest.split("le=\"").nth(1).and_then(|r| r.split('"').next()) else {
            continue;
        };
        if let Some(n) = line.rsplit(' ').next().and_then(|n| n.parse::<f64>().ok()) {
            *buckets.entry(le.to_string()).or_insert(0.0) += n;
        }
    }
    buckets
}

impl Console {
    /// A console asking the meta members at `meta_addrs`.
    pub fn new(meta_addrs: Vec<String>) -> Arc<Self> {
        Arc::new(Self {
            meta: Arc::new(MetaClient::new(meta_addrs)),
            state: Mutex::new(State::default()),
            sampler: OnceLock::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts sampling on the first visit (a process nobody looks at asks nothing).
    fn ensure_sampling(self: &Arc<Self>) {
        self.sampler.get_or_init(|| {
            let console = Arc::downgrade(self);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(SAMPLE_EVERY);
                loop {
                    tick.tick().await;
                    let Some(console) = console.upgrade() else {
                        return;
                    };
                    console.sample().await;
                }
            });
        });
    }

    async fn sample(&self) {
        let fetched = self.meta.overview().await;
        let buckets = router_buckets();
        let mut state = self.lock();
        // The first sample has nothing to subtract: its buckets hold all history.
        let p99_ms = (!state.buckets.is_empty())
            .then(|| p99_between(&state.buckets, &buckets))
            .flatten();
        state.buckets = buckets;
        match fetched {
            Ok(overview) => {
                let sample = Sample {
                    at_ms: now_ms(),
                    qps: overview.ranges.iter().map(|r| r.qps).sum(),
                    p99_ms,
                    ranges: overview.ranges.iter().map(|r| (r.id, r.qps)).collect(),
                };
                state.history.push_back(sample);
                if state.history.len() > HISTORY {
                    state.history.pop_front();
                }
                state.overview = Some(overview);
                state.error = None;
            }
            Err(e) => state.error = Some(e.to_string()),
        }
    }

    /// The JSON the page polls.
    fn snapshot(&self) -> Value {
        let state = self.lock();
        let overview = state.overview.clone().unwrap_or_default();
        let ranges: Vec<Value> = overview
            .ranges
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "table": r.table, "start": show_key(&r.start),
                    "end": show_key(&r.end), "epoch": r.epoch, "group": r.group,
                    "replicas": r.replicas, "leader": r.leader, "bytes": r.bytes, "qps": r.qps,
                })
            })
            .collect();
        let history: Vec<Value> = state
            .history
            .iter()
            .map(|s| {
                let ranges: BTreeMap<String, f64> = s
                    .ranges
                    .iter()
                    .map(|(id, q)| (id.to_string(), *q))
                    .collect();
                json!({"t": s.at_ms, "qps": s.qps, "p99_ms": s.p99_ms, "ranges": ranges})
            })
            .collect();
        let decisions: Vec<Value> = overview
            .decisions
            .iter()
            .map(|(t, what)| json!({"t": t, "what": what}))
            .collect();
        json!({
            "updated_ms": state.history.back().map(|s| s.at_ms),
            "error": state.error,
            "catalog_version": overview.catalog_version,
            "nodes": overview.nodes.iter().map(|n| json!({
                "id": n.id, "addr": n.addr, "state": n.state, "lifecycle": n.lifecycle,
                "replicas": n.replicas, "leaders": n.leaders, "asleep": n.asleep,
            })).collect::<Vec<_>>(),
            "tables": overview.tables,
            "ranges": ranges,
            "under_replicated": overview.under_replicated,
            "unavailable": overview.unavailable,
            "decisions": decisions,
            "history": history,
        })
    }

    /// The HTTP routes of the console: `/`, `/api/overview`.
    pub fn handler(self: &Arc<Self>) -> Handler {
        let console = self.clone();
        Arc::new(move |path: String| {
            let console = console.clone();
            Box::pin(async move {
                console.ensure_sampling();
                match path.split('?').next().unwrap_or_default() {
                    "/" | "/index.html" => Response::ok("text/html; charset=utf-8", PAGE),
                    "/api/overview" => {
                        if console.lock().history.is_empty() {
                            console.sample().await; // The first visit sees data at once.
                        }
                        Response::ok("application/json", console.snapshot().to_string())
                    }
                    _ => Response::error(404, "not found\n"),
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_comes_from_the_bucket_deltas() {
        let before: BTreeMap<String, f64> = [("0.001", 10.0), ("0.01", 10.0), ("+Inf", 10.0)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        let after: BTreeMap<String, f64> = [("0.001", 100.0), ("0.01", 110.0), ("+Inf", 110.0)]
            .map(|(k, v)| (k.to_string(), v))
            .into();
        // 100 new calls: 90 under 1 ms, 10 under 10 ms: the p99 is under 10 ms.
        assert_eq!(p99_between(&before, &after), Some(10.0));
        assert_eq!(p99_between(&after, &after), None);
        assert_eq!(show_key(b"\x00\x01a:b"), "\\x00\\x01a:b");
    }
}

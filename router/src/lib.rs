//! Tessera's RESP front end. Accepts Redis clients, parses requests ([`parse`]),
//! runs commands ([`cmd`]) by routing them to the leaders of the ranges that hold
//! their keys ([`cluster`]), and encodes replies in RESP2 or RESP3 ([`encode`]).
//! Failures become client errors in one place ([`errors`]). Stateless but for SCAN
//! cursors ([`cursor`]).

pub mod blocked;
pub mod clients;
pub mod cluster;
pub mod cmd;
pub mod conn;
pub mod cursor;
pub mod encode;
pub mod errors;
pub use tessera_common::glob;
pub mod parse;
pub mod stats;

use cluster::Cluster;
use cursor::CursorTable;
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_common::Clock;
use tessera_proto::args::Limits;
use tessera_proto::catalog::TableId;
use tessera_proto::meta_client::MetaClient;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The Redis version Tessera reports (clients gate features on it).
pub const REDIS_VERSION: &str = "7.0.15";

/// How a router runs.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    /// The meta members' addresses.
    pub meta_addrs: Vec<String>,
    /// Largest value accepted by SET (default 1 MiB).
    pub max_value_bytes: usize,
    /// Largest bulk string accepted by the protocol parser (default 512 MiB).
    pub max_bulk_bytes: usize,
    /// Largest request (all arguments together) buffered for one client (default
    /// 1 GiB, Redis's client-query-buffer-limit).
    pub max_request_bytes: usize,
    /// How long a request may retry routing errors before failing.
    pub request_deadline: Duration,
    /// Inactivity after which a SCAN cursor expires.
    pub cursor_ttl: Duration,
    /// Keys SCAN and KEYS pull from a range leader per request.
    pub scan_page: usize,
    /// Password clients must give with `AUTH` (none: no authentication).
    pub requirepass: Option<String>,
    /// Most clients connected at once; more are refused as Redis refuses them.
    pub max_clients: usize,
    /// The wall clock (expiry arguments, `TIME`).
    pub clock: Arc<dyn Clock>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            meta_addrs: Vec::new(),
            max_value_bytes: 1024 * 1024,
            max_bulk_bytes: 512 * 1024 * 1024,
            max_request_bytes: 1024 * 1024 * 1024,
            request_deadline: Duration::from_secs(5),
            cursor_ttl: Duration::from_secs(600),
            scan_page: 500,
            requirepass: None,
            max_clients: 10_000,
            clock: tessera_common::clock::system(),
        }
    }
}

/// State shared by every connection of one router.
pub struct Context {
    /// Routing.
    pub cluster: Cluster,
    /// The metadata service (operator commands).
    pub meta: Arc<MetaClient>,
    /// The command table (`COMMAND` reads it from here).
    pub commands: &'static [cmd::Entry],
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// Range reads made by SCAN and KEYS, per table id (for INFO and tests: a
    /// `MATCH table:*` scan must touch only that table's ranges).
    scan_reads: std::sync::Mutex<BTreeMap<TableId, u64>>,
    /// SCAN cursors.
    pub cursors: CursorTable,
    /// Clients blocked in `BLPOP` and the like.
    pub blocked: blocked::Blocked,
    /// Largest value accepted by SET.
    pub max_value_bytes: usize,
    /// Largest bulk string accepted.
    pub max_bulk_bytes: usize,
    /// Largest request buffered for one client.
    pub max_request_bytes: usize,
    /// Keys pulled per range request by SCAN and KEYS.
    pub scan_page: usize,
    /// The port clients connect to (for INFO).
    pub port: u16,
    /// When the router started (for INFO).
    pub started: Instant,
    /// `--requirepass`.
    pub requirepass: Option<String>,
    /// `--maxclients`.
    pub max_clients: AtomicUsize,
    connected_now: AtomicUsize,
    connections: AtomicU64,
    commands_processed: AtomicU64,
    rejected_connections: AtomicU64,
    /// Bytes read from and written to clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Command counts, errors, the slow log and the latency monitor.
    pub stats: stats::Stats,
    /// Every connection (`CLIENT LIST|KILL|PAUSE`, `MONITOR`).
    pub clients: clients::Clients,
    /// Recent commands and bytes per second (INFO's `instantaneous_*`).
    pub rates: stats::Rates,
    /// The storage nodes' key lookups when the statistics were last reset.
    pub lookups: stats::Lookups,
}

impl Context {
    /// Currently connected clients.
    pub fn connected(&self) -> usize {
        self.connected_now.load(Ordering::Relaxed)
    }

    /// Connections accepted since start.
    pub fn connections_received(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Connections refused over `--maxclients` since start.
    pub fn rejected_connections(&self) -> u64 {
        self.rejected_connections.load(Ordering::Relaxed)
    }

    /// `CONFIG RESETSTAT`: the counters INFO reports start over.
    pub fn reset_stats(&self) {
        self.stats.reset();
        for counter in [
            &self.connections,
            &self.commands_processed,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// Commands received since start.
    pub fn commands_processed(&self) -> u64 {
        self.commands_processed.load(Ordering::Relaxed)
    }

    pub(crate) fn count_scan_read(&self, table: TableId) {
        *self
            .scan_reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(table)
            .or_default() += 1;
    }

    /// Range reads made by SCAN and KEYS, per table id.
    pub fn scan_reads(&self) -> BTreeMap<TableId, u64> {
        self.scan_reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What command parsers check arguments against.
    pub fn limits(&self) -> Limits {
        Limits {
            max_value_bytes: self.max_value_bytes,
            now_ms: self.clock.now_ms(),
        }
    }

    /// Samples the counters behind INFO's `instantaneous_*` figures.
    fn sample_rates(&self) {
        let now_ms = self.started.elapsed().as_millis() as u64;
        self.rates.sample(
            now_ms,
            [
                self.commands_processed(),
                self.net_input_bytes.load(Ordering::Relaxed),
                self.net_output_bytes.load(Ordering::Relaxed),
            ],
        );
    }

    pub(crate) fn count_command(&self) {
        self.commands_processed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Tells a client over `--maxclients` so, as Redis does, and closes its connection.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = stream
        .write_all(b"-ERR max number of clients reached\r\n")
        .await;
    let _ = stream.shutdown().await;
}

/// Serves Redis clients on `listener` until `shutdown`, then closes every connection.
///
/// # Errors
/// Errors reading the listener's address.
pub async fn run(
    config: RouterConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let meta = Arc::new(MetaClient::new(config.meta_addrs.clone()));
    let (catalog, watcher) = meta.clone().follow_catalog(shutdown.clone());
    let ctx = Arc::new(Context {
        cluster: Cluster::new(catalog, config.request_deadline),
        meta,
        commands: cmd::COMMANDS,
        clock: config.clock.clone(),
        scan_reads: Default::default(),
        cursors: CursorTable::new(config.cursor_ttl),
        blocked: blocked::Blocked::default(),
        max_value_bytes: config.max_value_bytes,
        max_bulk_bytes: config.max_bulk_bytes,
        max_request_bytes: config.max_request_bytes,
        scan_page: config.scan_page.max(1),
        port: listener.local_addr()?.port(),
        started: Instant::now(),
        requirepass: config.requirepass.clone(),
        max_clients: AtomicUsize::new(config.max_clients),
        connected_now: AtomicUsize::new(0),
        connections: AtomicU64::new(0),
        commands_processed: AtomicU64::new(0),
        rejected_connections: AtomicU64::new(0),
        net_input_bytes: AtomicU64::new(0),
        net_output_bytes: AtomicU64::new(0),
        stats: stats::Stats::default(),
        clients: clients::Clients::default(),
        rates: stats::Rates::default(),
        lookups: stats::Lookups::default(),
    });
    let next_id = AtomicU64::new(1);
    let mut connections = JoinSet::new();
    let mut sample = tokio::time::interval(stats::SAMPLE_EVERY);
    sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = sample.tick() => ctx.sample_rates(),
            Some(_) = connections.join_next(), if !connections.is_empty() => {
                ctx.connected_now.fetch_sub(1, Ordering::Relaxed);
                metrics::gauge!("tessera_router_connections").decrement(1.0);
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if ctx.connected() >= ctx.max_clients.load(Ordering::Relaxed) {
                        ctx.rejected_connections.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("tessera_router_rejected_connections_total").increment(1);
                        connections.spawn(refuse(stream));
                        ctx.connected_now.fetch_add(1, Ordering::Relaxed);
                        metrics::gauge!("tessera_router_connections").increment(1.0);
                        continue;
                    }
                    ctx.connected_now.fetch_add(1, Ordering::Relaxed);
                    metrics::gauge!("tessera_router_connections").increment(1.0);
                    ctx.connections.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("tessera_router_connections_total").increment(1);
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(conn::serve(ctx.clone(), stream, id, shutdown.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    ctx.cluster.shutdown().await;
    let _ = watcher.await;
    Ok(())
}

//! The `tessera` command line: parses flags (or `TESSERA_*` environment variables) and
//! runs the services — all in one process (`dev`) or one part per process (`meta`,
//! `node`, `router`).

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use tessera::config::parse_duration;
use tessera::dev::{DevCluster, DevOptions};
use tessera::playground::PlaygroundOptions;
use tessera_common::raftnet::RaftTimings;
use tessera_meta::{ControllerConfig, MetaConfig};
use tessera_router::RouterConfig;
use tessera_server::NodeConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "A strongly consistent, distributed key-value database that speaks the Redis protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Settings of the RESP front end.
#[derive(Args)]
struct ClientFlags {
    /// Port for Redis clients (0 picks a free one).
    #[arg(long, default_value_t = 6379, env = "TESSERA_PORT")]
    port: u16,
    /// Address to listen on for Redis clients.
    #[arg(long, default_value = "127.0.0.1", env = "TESSERA_BIND")]
    bind: IpAddr,
    /// Largest value accepted by SET, in bytes.
    #[arg(long, default_value_t = 1024 * 1024, env = "TESSERA_MAX_VALUE_BYTES")]
    max_value_bytes: usize,
    /// Require clients to AUTH with this password.
    #[arg(long, env = "TESSERA_REQUIREPASS")]
    requirepass: Option<String>,
    /// Most clients connected at once.
    #[arg(long, default_value_t = 10_000, env = "TESSERA_MAXCLIENTS")]
    maxclients: usize,
    /// Largest request a client may send (all arguments together), in bytes.
    #[arg(long, default_value_t = 1 << 30, env = "TESSERA_QUERY_BUFFER_LIMIT")]
    query_buffer_limit: usize,
}

impl ClientFlags {
    fn router_config(&self, meta_addrs: Vec<String>) -> RouterConfig {
        RouterConfig {
            meta_addrs,
            max_value_bytes: self.max_value_bytes,
            requirepass: self.requirepass.clone(),
            max_clients: self.maxclients,
            max_request_bytes: self.query_buffer_limit,
            ..Default::default()
        }
    }
}

/// Authentication of internal connections.
#[derive(Args)]
struct SecretFlags {
    /// Shared secret every internal connection (Raft, data, meta) must present.
    #[arg(
        long,
        env = "TESSERA_CLUSTER_SECRET",
        conflicts_with = "cluster_secret_file"
    )]
    cluster_secret: Option<String>,
    /// File holding the shared secret (trailing whitespace ignored).
    #[arg(long, env = "TESSERA_CLUSTER_SECRET_FILE")]
    cluster_secret_file: Option<PathBuf>,
}

impl SecretFlags {
    /// Installs the secret for this process, if one was given.
    fn apply(&self) -> anyhow::Result<()> {
        let secret = match (&self.cluster_secret, &self.cluster_secret_file) {
            (Some(secret), _) => secret.clone().into_bytes(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("read {}", path.display()))?
                .trim_end()
                .as_bytes()
                .to_vec(),
            (None, None) => return Ok(()),
        };
        tessera_common::secret::set(secret)?;
        Ok(())
    }
}

/// How group leaders confirm a read.
#[derive(Args)]
struct ReadFlags {
    /// Serve reads under the leader's lease (no quorum round per read; safe while
    /// clocks on the nodes run at about the same rate) instead of ReadIndex.
    #[arg(long, env = "TESSERA_LEASE_READS")]
    lease_reads: bool,
}

/// A configuration file.
#[derive(Args)]
struct ConfigFlag {
    /// TOML file of settings named like the flags (flags and environment win over it).
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a meta member, three storage nodes and a router in this process.
    Dev {
        #[command(flatten)]
        client: ClientFlags,
        /// Where data lives (one directory per part inside it).
        #[arg(long, default_value = "./tessera-data", env = "TESSERA_DATA_DIR")]
        data_dir: PathBuf,
        #[command(flatten)]
        reads: ReadFlags,
        #[command(flatten)]
        config: ConfigFlag,
    },
    /// Run a local cluster of separate processes (meta members, nodes, a router) to
    /// try failover by hand: `kill -9` any pid it lists.
    Playground {
        /// Meta members (1, 3 or 5).
        #[arg(long, default_value_t = 3)]
        meta: usize,
        /// Storage nodes.
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Router port for Redis clients (0 picks a free one).
        #[arg(long, default_value_t = 6379)]
        port: u16,
        /// Where the processes keep their data and logs.
        #[arg(long, default_value = "./tessera-playground")]
        data_dir: PathBuf,
    },
    /// Run one member of the metadata service.
    Meta {
        /// This member's id (a key of --members).
        #[arg(long, env = "TESSERA_META_ID")]
        id: u64,
        /// Every member as id=host:port, comma-separated, this one included.
        #[arg(long, env = "TESSERA_META_MEMBERS")]
        members: String,
        /// Address to listen on, when not this member's address in --members (NAT, a
        /// proxy).
        #[arg(long, env = "TESSERA_LISTEN")]
        listen: Option<String>,
        /// Where its data lives.
        #[arg(long, env = "TESSERA_DATA_DIR")]
        data_dir: PathBuf,
        /// Replicas of the default table.
        #[arg(long, default_value_t = 3, env = "TESSERA_DEFAULT_REPLICAS")]
        default_replicas: u8,
        /// A storage node silent this long is dead; its replicas are replaced.
        #[arg(long, default_value = "10s", value_parser = parse_duration, env = "TESSERA_DEAD_AFTER")]
        dead_after: Duration,
        /// A follower this many log entries behind its leader is lagging...
        #[arg(long, default_value_t = 10_000, env = "TESSERA_LAG_ENTRIES")]
        lag_entries: u64,
        /// ...and is replaced after lagging this long.
        #[arg(long, default_value = "30s", value_parser = parse_duration, env = "TESSERA_LAG_WINDOW")]
        lag_window: Duration,
        #[command(flatten)]
        secret: SecretFlags,
        #[command(flatten)]
        config: ConfigFlag,
    },
    /// Run one storage node.
    Node {
        /// This node's id (never reused for a node with other data).
        #[arg(long, env = "TESSERA_NODE_ID")]
        id: u64,
        /// Internal address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:0", env = "TESSERA_LISTEN")]
        listen: SocketAddr,
        /// Address other nodes and routers should use to reach this node, when it is
        /// not the listening address (NAT, a proxy); default: the listening address.
        #[arg(long, env = "TESSERA_ADVERTISE")]
        advertise: Option<String>,
        /// Meta members' addresses, comma-separated.
        #[arg(long, env = "TESSERA_META")]
        meta: String,
        /// Where its data lives.
        #[arg(long, env = "TESSERA_DATA_DIR")]
        data_dir: PathBuf,
        /// Also serve Redis clients (a router) on this address; "off" to not.
        #[arg(long, default_value = "127.0.0.1:6379", env = "TESSERA_RESP")]
        resp: String,
        /// How often it reports to the meta service.
        #[arg(long, default_value = "1s", value_parser = parse_duration, env = "TESSERA_HEARTBEAT_INTERVAL")]
        heartbeat_interval: Duration,
        /// Build a snapshot of a group after this many applied log entries (the log
        /// before it may then be purged).
        #[arg(long, default_value_t = RaftTimings::default().snapshot_every, env = "TESSERA_SNAPSHOT_EVERY")]
        snapshot_every: u64,
        /// Log entries kept behind a snapshot for followers that lag a little.
        #[arg(long, default_value_t = RaftTimings::default().keep_logs, env = "TESSERA_KEEP_LOGS")]
        keep_logs: u64,
        /// Also snapshot a group once this many bytes were appended to its log since the
        /// last snapshot (0: by entry count only).
        #[arg(long, default_value_t = RaftTimings::default().snapshot_bytes, env = "TESSERA_SNAPSHOT_BYTES")]
        snapshot_bytes: u64,
        #[command(flatten)]
        reads: ReadFlags,
        /// A group with no requests for this long stops its Raft timers until it is
        /// needed again ("0s": never). Saves CPU on nodes with many idle ranges.
        #[arg(long, default_value = "5s", value_parser = parse_duration, env = "TESSERA_HIBERNATE_AFTER")]
        hibernate_after: Duration,
        #[command(flatten)]
        secret: SecretFlags,
        #[command(flatten)]
        config: ConfigFlag,
    },
    /// Run a router (the RESP front end) for a cluster.
    Router {
        #[command(flatten)]
        client: ClientFlags,
        /// Meta members' addresses, comma-separated.
        #[arg(long, env = "TESSERA_META")]
        meta: String,
        #[command(flatten)]
        secret: SecretFlags,
        #[command(flatten)]
        config: ConfigFlag,
    },
}

/// Settings of a meta member.
struct MetaFlags {
    id: u64,
    members: String,
    listen: Option<String>,
    data_dir: PathBuf,
    controller: ControllerConfig,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,tessera=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    tessera::config::apply_config_file(&<Cli as clap::CommandFactory>::command(), &args)?;
    let cli = Cli::parse_from(args);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Dev {
                client,
                data_dir,
                reads,
                ..
            } => run_dev(client, data_dir, reads).await,
            Command::Playground {
                meta,
                nodes,
                port,
                data_dir,
            } => {
                tessera::playground::run(PlaygroundOptions {
                    meta,
                    nodes,
                    port,
                    data_dir,
                })
                .await
            }
            Command::Meta {
                id,
                members,
                listen,
                data_dir,
                default_replicas,
                dead_after,
                lag_entries,
                lag_window,
                secret,
                ..
            } => {
                secret.apply()?;
                run_meta(MetaFlags {
                    id,
                    members,
                    listen,
                    data_dir,
                    controller: ControllerConfig {
                        default_replicas,
                        dead_after,
                        lag_entries,
                        lag_window,
                    },
                })
                .await
            }
            Command::Node {
                id,
                listen,
                advertise,
                meta,
                data_dir,
                resp,
                heartbeat_interval,
                snapshot_every,
                keep_logs,
                snapshot_bytes,
                hibernate_after,
                reads,
                secret,
                ..
            } => {
                secret.apply()?;
                let config = NodeConfig {
                    id,
                    data_dir,
                    meta_addrs: list(&meta),
                    advertise_addr: advertise.unwrap_or_default(),
                    raft: RaftTimings {
                        snapshot_every,
                        keep_logs,
                        snapshot_bytes,
                        hibernate_after_ms: hibernate_after.as_millis() as u64,
                        lease_reads: reads.lease_reads,
                        ..RaftTimings::default()
                    },
                    heartbeat: heartbeat_interval,
                    clock: tessera_common::clock::system(),
                };
                run_node(config, listen, &resp).await
            }
            Command::Router {
                client,
                meta,
                secret,
                ..
            } => {
                secret.apply()?;
                run_router(client, &meta).await
            }
        }
    })
}

fn list(addrs: &str) -> Vec<String> {
    addrs
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}

fn parse_members(members: &str) -> anyhow::Result<BTreeMap<u64, String>> {
    list(members)
        .into_iter()
        .map(|m| {
            let (id, addr) = m
                .split_once('=')
                .context("--members entries are id=host:port")?;
            Ok((id.parse().context("member id")?, addr.to_string()))
        })
        .collect()
}

/// Runs `service` until SIGINT or SIGTERM, then cancels it and waits for it.
async fn until_signal<F>(
    role: &str,
    service: impl FnOnce(CancellationToken) -> F,
) -> anyhow::Result<()>
where
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let shutdown = CancellationToken::new();
    let mut task = tokio::spawn(service(shutdown.clone()));
    tokio::select! {
        signal = wait_for_signal() => signal?,
        // The service stopped by itself: it failed (e.g. its registration was refused).
        ended = &mut task => {
            ended??;
            anyhow::bail!("tessera {role} stopped unexpectedly");
        }
    }
    eprintln!("tessera {role}: shutting down");
    shutdown.cancel();
    task.await??;
    eprintln!("tessera {role}: stopped cleanly");
    Ok(())
}

async fn run_meta(flags: MetaFlags) -> anyhow::Result<()> {
    let MetaFlags {
        id,
        members,
        listen,
        data_dir,
        controller,
    } = flags;
    let members = parse_members(&members)?;
    let advertised = members
        .get(&id)
        .context("--id must be one of --members")?
        .clone();
    let addr = listen.unwrap_or(advertised);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("bind {addr}"))?;
    println!(
        "tessera meta: listening on {} (member {id} of {})",
        listener.local_addr()?,
        members.len()
    );
    let config = MetaConfig {
        id,
        data_dir,
        members,
        raft: RaftTimings::default(),
        controller,
    };
    until_signal("meta", |shutdown| {
        tessera_meta::run(config, listener, shutdown)
    })
    .await
}

async fn run_node(mut config: NodeConfig, listen: SocketAddr, resp: &str) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("bind {listen}"))?;
    let addr = listener.local_addr()?;
    let resp_listener = match resp {
        "off" => None,
        resp => Some(
            TcpListener::bind(resp)
                .await
                .with_context(|| format!("bind {resp}"))?,
        ),
    };
    let resp_note = match &resp_listener {
        Some(l) => format!(", RESP on {}", l.local_addr()?),
        None => String::new(),
    };
    println!(
        "tessera node: listening on {addr} (node {}{resp_note})",
        config.id
    );
    if config.advertise_addr.is_empty() {
        config.advertise_addr = addr.to_string();
    }
    let router_config = RouterConfig {
        meta_addrs: config.meta_addrs.clone(),
        ..Default::default()
    };
    until_signal("node", move |shutdown| async move {
        // The node's own router serves Redis clients next to the node.
        let router = resp_listener.map(|l| {
            tokio::spawn(tessera_router::run(
                router_config,
                l,
                shutdown.child_token(),
            ))
        });
        let node = tessera_server::run(config, listener, shutdown).await;
        if let Some(router) = router {
            router.await.map_err(std::io::Error::other)??;
        }
        node
    })
    .await
}

async fn run_router(client: ClientFlags, meta: &str) -> anyhow::Result<()> {
    let listener = TcpListener::bind(SocketAddr::new(client.bind, client.port)).await?;
    println!("tessera router: listening on {}", listener.local_addr()?);
    let config = client.router_config(list(meta));
    until_signal("router", |shutdown| {
        tessera_router::run(config, listener, shutdown)
    })
    .await
}

async fn run_dev(client: ClientFlags, data_dir: PathBuf, reads: ReadFlags) -> anyhow::Result<()> {
    let options = DevOptions {
        listen: SocketAddr::new(client.bind, client.port),
        data_dir: data_dir.clone(),
        router: client.router_config(Vec::new()),
        raft: RaftTimings {
            lease_reads: reads.lease_reads,
            ..RaftTimings::default()
        },
        ..Default::default()
    };
    let cluster = DevCluster::start(options).await?;
    println!(
        "tessera dev: listening on {} (data in {}, meta at {}, nodes: {})",
        cluster.router_addr(),
        data_dir.display(),
        cluster.meta_addr(),
        cluster
            .node_ids()
            .iter()
            .filter_map(|id| cluster.node_addr(*id).map(|a| format!("{id}@{a}")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    wait_for_signal().await?;
    eprintln!("tessera dev: shutting down");
    cluster.shutdown().await?;
    eprintln!("tessera dev: stopped cleanly");
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

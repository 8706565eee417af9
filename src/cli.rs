//! The command line's shape: every subcommand and flag of `tessera` (flags can also come
//! from `TESSERA_*` environment variables and a `--config` TOML file).

use crate::config::parse_duration;
use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use tessera_common::raftnet::RaftTimings;
use tessera_router::RouterConfig;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "A strongly consistent, distributed key-value database that speaks the Redis protocol"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Settings of the RESP front end.
#[derive(Args)]
pub struct ClientFlags {
    /// Port for Redis clients (0 picks a free one).
    #[arg(long, default_value_t = 6379, env = "TESSERA_PORT")]
    pub port: u16,
    /// Address to listen on for Redis clients.
    #[arg(long, default_value = "127.0.0.1", env = "TESSERA_BIND")]
    pub bind: IpAddr,
    /// Largest value accepted by SET, in bytes.
    #[arg(long, default_value_t = 1024 * 1024, env = "TESSERA_MAX_VALUE_BYTES")]
    pub max_value_bytes: usize,
    /// Require clients to AUTH with this password.
    #[arg(long, env = "TESSERA_REQUIREPASS")]
    pub requirepass: Option<String>,
    /// Most clients connected at once.
    #[arg(long, default_value_t = 10_000, env = "TESSERA_MAXCLIENTS")]
    pub maxclients: usize,
    /// Largest request a client may send (all arguments together), in bytes.
    #[arg(long, default_value_t = 1 << 30, env = "TESSERA_QUERY_BUFFER_LIMIT")]
    pub query_buffer_limit: usize,
}

impl ClientFlags {
    pub fn router_config(&self, meta_addrs: Vec<String>) -> RouterConfig {
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
pub struct SecretFlags {
    /// Shared secret every internal connection (Raft, data, meta) must present.
    #[arg(
        long,
        env = "TESSERA_CLUSTER_SECRET",
        conflicts_with = "cluster_secret_file"
    )]
    pub cluster_secret: Option<String>,
    /// File holding the shared secret (trailing whitespace ignored).
    #[arg(long, env = "TESSERA_CLUSTER_SECRET_FILE")]
    pub cluster_secret_file: Option<PathBuf>,
}

impl SecretFlags {
    /// Installs the secret for this process, if one was given.
    pub fn apply(&self) -> anyhow::Result<()> {
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
pub struct ReadFlags {
    /// Serve reads under the leader's lease (no quorum round per read; safe while
    /// clocks on the nodes run at about the same rate) instead of ReadIndex.
    #[arg(long, env = "TESSERA_LEASE_READS")]
    pub lease_reads: bool,
    /// Bytes of each storage node's point-read cache for GET (0: none).
    #[arg(long, default_value_t = RaftTimings::default().read_cache_bytes, env = "TESSERA_READ_CACHE_BYTES")]
    pub read_cache_bytes: u64,
}

/// When ranges split and merge on their own.
#[derive(Args, Clone, Copy, Debug)]
pub struct ElasticFlags {
    /// A range holding more than this many bytes splits at its middle key (0: never).
    #[arg(long, default_value_t = tessera_meta::controller::DEFAULT_SPLIT_BYTES, env = "TESSERA_SPLIT_BYTES")]
    pub split_bytes: u64,
    /// A range serving more than this many requests per second for 10 s splits where
    /// its load divides evenly (0: never).
    #[arg(long, default_value_t = tessera_meta::controller::DEFAULT_SPLIT_QPS, env = "TESSERA_SPLIT_QPS")]
    pub split_qps: f64,
}

impl ElasticFlags {
    /// The controller settings with these thresholds.
    pub fn apply(&self, config: tessera_meta::ControllerConfig) -> tessera_meta::ControllerConfig {
        tessera_meta::ControllerConfig {
            split_bytes: self.split_bytes,
            split_qps: self.split_qps,
            ..config
        }
    }
}

/// `--initial-cluster-state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterState {
    /// The meta group is being formed.
    New,
    /// The meta group exists and this member ran in it before.
    Existing,
}

impl From<ClusterState> for tessera_meta::InitialState {
    fn from(state: ClusterState) -> Self {
        match state {
            ClusterState::New => tessera_meta::InitialState::New,
            ClusterState::Existing => tessera_meta::InitialState::Existing,
        }
    }
}

/// The process's HTTP address.
#[derive(Args)]
pub struct HttpFlag {
    /// Serve Prometheus `/metrics` and the web console on this address ("off": not at
    /// all; port 0 picks a free one, printed at start).
    #[arg(long, default_value = "127.0.0.1:0", env = "TESSERA_HTTP")]
    pub http: String,
}

/// A configuration file.
#[derive(Args)]
pub struct ConfigFlag {
    /// TOML file of settings named like the flags (flags and environment win over it).
    #[arg(long, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
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
        elastic: ElasticFlags,
        #[command(flatten)]
        http: HttpFlag,
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
        #[command(flatten)]
        elastic: ElasticFlags,
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
        elastic: ElasticFlags,
        /// `new` while the meta group is being formed; `existing` once it has run, so
        /// that a member whose data directory was lost refuses to start instead of
        /// voting a second time in a term (like etcd's flag).
        #[arg(long, value_enum, default_value_t = ClusterState::New, env = "TESSERA_INITIAL_CLUSTER_STATE")]
        initial_cluster_state: ClusterState,
        /// Abort at this crash point (recovery tests; see `common::failpoint`).
        #[arg(long, hide = true)]
        failpoint: Option<String>,
        #[command(flatten)]
        secret: SecretFlags,
        #[command(flatten)]
        http: HttpFlag,
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
        /// Abort at this crash point (recovery tests; see `common::failpoint`).
        #[arg(long, hide = true)]
        failpoint: Option<String>,
        #[command(flatten)]
        secret: SecretFlags,
        #[command(flatten)]
        http: HttpFlag,
        #[command(flatten)]
        config: ConfigFlag,
    },
    /// Load a backup written by `BACKUP path` into a new cluster: into a running one
    /// (`--meta`), or into new data directories (`--data-dir`, then `tessera dev`).
    Restore {
        /// The backup directory.
        #[arg(long)]
        from: PathBuf,
        /// Meta members of a new, empty cluster, comma-separated.
        #[arg(
            long,
            conflicts_with = "data_dir",
            required_unless_present = "data_dir"
        )]
        meta: Option<String>,
        /// An empty directory to create `tessera dev`'s data directories in.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        secret: SecretFlags,
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
        http: HttpFlag,
        #[command(flatten)]
        config: ConfigFlag,
    },
}

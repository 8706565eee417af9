//! The `tessera` command line: parses flags (or `TESSERA_*` environment variables) and
//! runs the services — all in one process (`dev`) or one part per process (`meta`,
//! `node`, `router`).

use anyhow::Context as _;
use clap::Parser;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use tessera::cli::{Cli, ClientFlags, Command, ElasticFlags, HttpFlag, ReadFlags};
use tessera::dev::{DevCluster, DevOptions};
use tessera::playground::PlaygroundOptions;
use tessera_common::raftnet::RaftTimings;
use tessera_meta::{ControllerConfig, MetaConfig};
use tessera_router::RouterConfig;
use tessera_server::NodeConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The allocator of every Tessera process (see docs/benchmarks.md, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process, as Redis and TiKV advise. With
/// them, every 2 MiB region mimalloc touches becomes resident and zeroed at once:
/// openraft reserves queues of thousands of slots per Raft group that it rarely fills,
/// and 3,000 replicas held 6.7 GB instead of 0.66 GB, a quarter of the CPU of creating 1,000
/// ranges went to zeroing pages, and creating them took 17 s instead of 8 s (see
/// docs/benchmarks.md, round eleven). mimalloc is also built not to ask for
/// them (`no_thp`); this covers systems where the kernel gives them unasked.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process's memory map.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Settings of a meta member.
struct MetaFlags {
    id: u64,
    members: String,
    listen: Option<String>,
    http: HttpFlag,
    initial_state: tessera_meta::InitialState,
    data_dir: PathBuf,
    controller: ControllerConfig,
}

fn main() -> anyhow::Result<()> {
    no_transparent_huge_pages();
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
    // Before any part registers a metric: handles taken earlier would record nowhere.
    tessera::http::prometheus();
    runtime.block_on(async move {
        match cli.command {
            Command::Dev {
                client,
                data_dir,
                reads,
                elastic,
                http,
                ..
            } => run_dev(client, data_dir, reads, elastic, http).await,
            Command::Playground {
                meta,
                nodes,
                port,
                data_dir,
                elastic,
            } => {
                tessera::playground::run(PlaygroundOptions {
                    meta,
                    nodes,
                    port,
                    data_dir,
                    elastic,
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
                elastic,
                failpoint,
                secret,
                http,
                initial_cluster_state,
                ..
            } => {
                secret.apply()?;
                if let Some(point) = failpoint {
                    tessera_common::failpoint::arm(point);
                }
                run_meta(MetaFlags {
                    id,
                    members,
                    listen,
                    http,
                    initial_state: initial_cluster_state.into(),
                    data_dir,
                    controller: elastic.apply(ControllerConfig {
                        default_replicas,
                        dead_after,
                        lag_entries,
                        lag_window,
                        ..ControllerConfig::default()
                    }),
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
                failpoint,
                secret,
                http,
                ..
            } => {
                secret.apply()?;
                if let Some(point) = failpoint {
                    tessera_common::failpoint::arm(point);
                }
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
                        read_cache_bytes: reads.read_cache_bytes,
                        ..RaftTimings::default()
                    },
                    heartbeat: heartbeat_interval,
                    clock: tessera_common::clock::system(),
                };
                run_node(config, listen, &resp, &http).await
            }
            Command::Restore {
                from,
                meta,
                data_dir,
                secret,
            } => {
                secret.apply()?;
                let restored = match (meta, data_dir) {
                    (Some(meta), _) => {
                        let (manifest, files) = tessera::restore::verify(&from)?;
                        tessera::restore::load(&manifest, files, list(&meta)).await?
                    }
                    (None, Some(dir)) => tessera::restore::restore_into_dir(&from, &dir).await?,
                    (None, None) => anyhow::bail!("give --meta or --data-dir"),
                };
                println!(
                    "tessera restore: {} tables created, {} ranges and {} rows loaded from {}",
                    restored.tables,
                    restored.ranges,
                    restored.rows,
                    from.display()
                );
                Ok(())
            }
            Command::Router {
                client,
                meta,
                secret,
                http,
                ..
            } => {
                secret.apply()?;
                run_router(client, &meta, &http).await
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
        http,
        data_dir,
        controller,
        initial_state,
    } = flags;
    let members = parse_members(&members)?;
    let advertised = members
        .get(&id)
        .context("--id must be one of --members")?
        .clone();
    let addr = listen.unwrap_or(advertised);
    let config = MetaConfig {
        id,
        data_dir,
        members: members.clone(),
        raft: RaftTimings::default(),
        controller,
        initial_state,
    };
    // Before it says it listens: a refused member never looks started.
    tessera_meta::check_initial_state(&config)?;
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("bind {addr}"))?;
    let http = start_http(&http, members.values().cloned().collect()).await?;
    println!(
        "tessera meta: listening on {} (member {id} of {}{http})",
        listener.local_addr()?,
        members.len()
    );
    until_signal("meta", |shutdown| {
        tessera_meta::run(config, listener, shutdown)
    })
    .await
}

async fn run_node(
    mut config: NodeConfig,
    listen: SocketAddr,
    resp: &str,
    http: &HttpFlag,
) -> anyhow::Result<()> {
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
    let http = start_http(http, config.meta_addrs.clone()).await?;
    println!(
        "tessera node: listening on {addr} (node {}{resp_note}{http})",
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

async fn run_router(client: ClientFlags, meta: &str, http: &HttpFlag) -> anyhow::Result<()> {
    let listener = TcpListener::bind(SocketAddr::new(client.bind, client.port)).await?;
    let http = start_http(http, list(meta)).await?;
    let note = http.strip_prefix(", ").map(|h| format!(" ({h})"));
    println!(
        "tessera router: listening on {}{}",
        listener.local_addr()?,
        note.unwrap_or_default()
    );
    let config = client.router_config(list(meta));
    until_signal("router", |shutdown| {
        tessera_router::run(config, listener, shutdown)
    })
    .await
}

async fn run_dev(
    client: ClientFlags,
    data_dir: PathBuf,
    reads: ReadFlags,
    elastic: ElasticFlags,
    http: HttpFlag,
) -> anyhow::Result<()> {
    let options = DevOptions {
        split_bytes: elastic.split_bytes,
        split_qps: elastic.split_qps,
        listen: SocketAddr::new(client.bind, client.port),
        data_dir: data_dir.clone(),
        router: client.router_config(Vec::new()),
        raft: RaftTimings {
            lease_reads: reads.lease_reads,
            read_cache_bytes: reads.read_cache_bytes,
            ..RaftTimings::default()
        },
        ..Default::default()
    };
    let cluster = DevCluster::start(options).await?;
    let http = start_http(&http, vec![cluster.meta_addr().to_string()]).await?;
    println!(
        "tessera dev: listening on {} (data in {}, meta at {}, nodes: {}{http})",
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

/// Starts the process's HTTP server (`/metrics`, the console asking `meta`) for as long as the process runs; the
/// `, http on ADDR` note of its banner (empty when `--http off`).
async fn start_http(http: &HttpFlag, meta: Vec<String>) -> anyhow::Result<String> {
    let console = tessera::console::Console::new(meta).handler();
    let bound = tessera::http::start(&http.http, Some(console), CancellationToken::new())
        .await
        .with_context(|| format!("bind --http {}", http.http))?;
    Ok(bound.map(|a| format!(", http on {a}")).unwrap_or_default())
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

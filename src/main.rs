//! The `tessera` command line: parses flags and runs the services.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use tessera::dev::{DevCluster, DevOptions};

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

#[derive(Subcommand)]
enum Command {
    /// Run a meta member, three storage nodes and a router in this process.
    Dev {
        /// Port for Redis clients.
        #[arg(long, default_value_t = 6379, env = "TESSERA_PORT")]
        port: u16,
        /// Address to listen on for Redis clients.
        #[arg(long, default_value = "127.0.0.1", env = "TESSERA_BIND")]
        bind: std::net::IpAddr,
        /// Where data lives (one directory per part inside it).
        #[arg(long, default_value = "./tessera-data", env = "TESSERA_DATA_DIR")]
        data_dir: PathBuf,
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
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,tessera=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Dev {
                port,
                bind,
                data_dir,
                max_value_bytes,
                requirepass,
                maxclients,
                query_buffer_limit,
            } => {
                let mut options = DevOptions {
                    listen: SocketAddr::new(bind, port),
                    data_dir,
                    ..Default::default()
                };
                options.router.max_value_bytes = max_value_bytes;
                options.router.requirepass = requirepass;
                options.router.max_clients = maxclients;
                options.router.max_request_bytes = query_buffer_limit;
                run_dev(options).await
            }
        }
    })
}

async fn run_dev(options: DevOptions) -> anyhow::Result<()> {
    let data_dir = options.data_dir.clone();
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

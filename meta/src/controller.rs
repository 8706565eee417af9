//! The controller: runs on the meta leader and changes the catalog to keep the cluster
//! in shape. Today it creates the built-in `default` table (one range, one group) as
//! soon as enough live nodes have registered.

use crate::catalog::{Catalog, MetaCommand, DEFAULT_TABLE};
use crate::proto::MetaResponse;
use crate::service::MetaService;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the controller looks at the cluster.
const TICK: Duration = Duration::from_millis(200);

/// Controller settings.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Replicas of the `default` table's ranges.
    pub default_replicas: u8,
    /// A node silent for this long is not live.
    pub dead_after: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            default_replicas: 3,
            dead_after: Duration::from_secs(10),
        }
    }
}

/// Runs until `shutdown`; acts only while this member leads.
pub async fn run(service: Arc<MetaService>, config: ControllerConfig, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !service.raft.is_leader() {
            continue;
        }
        let catalog = service.catalog.borrow().clone();
        if let Some(cmd) = bootstrap_default_table(&catalog, &service, &config) {
            match service.propose(cmd).await {
                MetaResponse::Ok => tracing::info!("created the default table"),
                MetaResponse::Error(e) => tracing::warn!(error = %e, "cannot create default table"),
                _ => {}
            }
        }
    }
}

fn bootstrap_default_table(
    catalog: &Catalog,
    service: &MetaService,
    config: &ControllerConfig,
) -> Option<MetaCommand> {
    if catalog.table_by_name(DEFAULT_TABLE).is_some() {
        return None;
    }
    let live: Vec<_> = service
        .liveness
        .live(config.dead_after)
        .into_iter()
        .filter(|n| catalog.nodes.contains_key(n))
        .collect();
    let placements = catalog
        .place(&live, usize::from(config.default_replicas), 1)
        .ok()?;
    Some(MetaCommand::CreateTable {
        name: DEFAULT_TABLE.to_string(),
        replicas: config.default_replicas,
        splits: Vec::new(),
        placements,
    })
}

//! `CREATETABLE name [REPLICAS 1|3|5] [SPLITS key [key ...]]`.

use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::meta_error;
use crate::Context;
use futures::future::BoxFuture;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tessera_proto::args::Args;
use tessera_proto::call::CallError;
use tessera_proto::catalog::{TableId, TableState};
use tessera_proto::commands::keyspace::Exists;
use tessera_proto::data::DataRequest;
use tessera_proto::op::Command;
use tessera_proto::reply::{syntax_error, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;
use tokio::time::Instant;

/// How long CREATETABLE waits for the table to exist and every new range to serve.
const SERVE_DEADLINE: Duration = Duration::from_secs(30);
/// Ranges of a new table probed at a time.
const SERVE_PROBES: usize = 32;

/// `CREATETABLE`: answers `OK` once every range of the new table serves.
pub struct CreateTable {
    name: String,
    replicas: u8,
    splits: Vec<Vec<u8>>,
}

impl Command for CreateTable {
    const SPEC: CommandSpec = spec! {
        "createtable", -2, ["write"], (0, 0, 0), [],
        "tessera", "tessera-0.1", "Create a table: CREATETABLE name [REPLICAS 1|3|5] [SPLITS key [key ...]]"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let name = String::from_utf8_lossy(&args.arg()?).into_owned();
        let (mut replicas, mut splits) = (3u8, Vec::new());
        while let Some(opt) = args.option() {
            match opt.as_str() {
                "replicas" if !args.is_empty() => {
                    replicas = u8::try_from(args.int()?)
                        .map_err(|_| Reply::err("REPLICAS must be 1, 3 or 5"))?;
                }
                "splits" if !args.is_empty() => {
                    splits = args.rest().iter().map(|a| a.to_vec()).collect();
                }
                _ => return Err(syntax_error()),
            }
        }
        Ok(Parsed::cluster(CreateTable {
            name,
            replicas,
            splits,
        }))
    }
}

impl ClusterCommand for CreateTable {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            let until = Instant::now() + SERVE_DEADLINE;
            let created = ctx
                .meta
                .create_table(&self.name, self.replicas, self.splits)
                .await;
            let result = match created {
                Ok(id) => created_table(&ctx, &self.name, id, until).await,
                Err(e) => Err(meta_error(e)),
            };
            result.unwrap_or_else(|reply| reply)
        })
    }
}

/// Waits until table `id` is active (or refused), then until its ranges serve.
async fn created_table(
    ctx: &Context,
    name: &str,
    id: TableId,
    until: Instant,
) -> Result<Reply, Reply> {
    loop {
        let catalog = ctx.cluster.catalog();
        if let Some(reason) = catalog.refusals.get(&id) {
            return Err(Reply::err(reason));
        }
        if catalog
            .tables
            .get(&id)
            .is_some_and(|t| t.state == TableState::Active)
        {
            break;
        }
        if Instant::now() >= until {
            return Err(Reply::Error(format!(
                "CLUSTERDOWN table '{name}' was requested but is not created yet"
            )));
        }
        ctx.cluster.wait_for_catalog(until).await;
    }
    wait_served(ctx, name, id, until).await?;
    Ok(Reply::Ok)
}

/// Waits until every range of table `id` answers a read. Thousands of new groups elect
/// their leaders at once; many ranges are probed at a time, each until the deadline.
async fn wait_served(ctx: &Context, name: &str, id: TableId, until: Instant) -> Result<(), Reply> {
    let ranges = ctx.cluster.catalog().table_ranges(id);
    let total = ranges.len();
    let probes = ranges.into_iter().map(|range| async move {
        loop {
            let key = bytes::Bytes::from(range.start.clone());
            let probe = DataRequest::Read(vec![Exists { keys: vec![key] }.into()]);
            match ctx.cluster.call(&range.start, probe).await {
                Ok(_) => return Ok(true),
                Err(CallError::Unavailable(_)) if Instant::now() < until => {}
                Err(CallError::Unavailable(_)) => return Ok(false),
                Err(e) => return Err(Reply::Error(e.to_string())),
            }
        }
    });
    let served: Vec<bool> = futures::stream::iter(probes)
        .buffer_unordered(SERVE_PROBES)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let waiting = served.iter().filter(|s| !**s).count();
    if waiting > 0 {
        return Err(Reply::Error(format!(
            "CLUSTERDOWN table '{name}' was created but {waiting} of its {total} ranges are not served yet"
        )));
    }
    Ok(())
}

//! Tessera's operator commands: CREATETABLE, DROPTABLE, TABLES, TABLE INFO, RANGES,
//! NODES.
//!
//! `CREATETABLE name` must never change the meaning of a key that already holds data.
//! Keys `name:*` belong to `default` until the table exists, and routers with an older
//! catalog may still write them there. So the router first *fences* the prefix
//! `name:` in `default`'s range: a Raft entry after which the range refuses every write
//! to such a key, ordered with all other writes. The same entry answers how many such
//! keys exist. Only if there are none is the table created; otherwise the fence is
//! lifted and the command refused. The fence stays while the table exists (a stale
//! router's write gets `-TRYAGAIN` and its retry reaches the table); DROPTABLE lifts it.

use super::{parse_int, run_in_range, syntax_error, Command};
use crate::cluster::{Cluster, RouteError};
use crate::reply::Reply;
use crate::Context;
use bytes::Bytes;
use futures::StreamExt;
use std::time::Duration;
use tessera_meta::catalog::{
    storage_key, table_end, Catalog, RangeDesc, TableDesc, DEFAULT_TABLE, DEFAULT_TABLE_ID,
};
use tessera_server::{DataRequest, DataResponse, NodeRequest, NodeResponse, Op, OpResult};

/// How long CREATETABLE waits for every new range to be served.
const SERVE_DEADLINE: Duration = Duration::from_secs(30);
/// Ranges of a new table probed at a time.
const SERVE_PROBES: usize = 32;

/// A parsed operator command.
pub enum Admin {
    /// `CREATETABLE`.
    Create {
        name: String,
        replicas: u8,
        splits: Vec<Vec<u8>>,
    },
    /// `DROPTABLE`.
    Drop(String),
    /// `TABLES`.
    Tables,
    /// `TABLE INFO name`.
    Info(String),
    /// `RANGES [table]`.
    Ranges(Option<String>),
    /// `NODES`.
    Nodes,
    /// `DECOMMISSION node`.
    Decommission(i64),
    /// `COMPACT`.
    Compact,
}

fn text(arg: &Bytes) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

fn parse_create(args: &[Bytes]) -> Result<Admin, Reply> {
    let (mut replicas, mut splits) = (3u8, Vec::new());
    let mut j = 2;
    while j < args.len() {
        match args[j].to_ascii_lowercase().as_slice() {
            b"replicas" if j + 1 < args.len() => {
                replicas = u8::try_from(parse_int(&args[j + 1])?)
                    .map_err(|_| Reply::err("REPLICAS must be 1, 3 or 5"))?;
                j += 2;
            }
            b"splits" if j + 1 < args.len() => {
                splits = args[j + 1..].iter().map(|a| a.to_vec()).collect();
                j = args.len();
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok(Admin::Create {
        name: text(&args[1]),
        replicas,
        splits,
    })
}

/// Parses an operator command; `None` if `name` is not one.
pub fn parse(name: &str, args: &[Bytes]) -> Option<Result<Command, Reply>> {
    let admin = match name {
        "createtable" => parse_create(args),
        "droptable" => Ok(Admin::Drop(text(&args[1]))),
        "tables" => Ok(Admin::Tables),
        "table" => match (args[1].to_ascii_lowercase().as_slice(), args.len()) {
            (b"info", 3) => Ok(Admin::Info(text(&args[2]))),
            (b"info", _) => Err(super::wrong_arity("table|info")),
            _ => Err(Reply::err(format!(
                "unknown subcommand '{}'. Try TABLE INFO name.",
                text(&args[1])
            ))),
        },
        "ranges" => match args.len() {
            1 => Ok(Admin::Ranges(None)),
            2 => Ok(Admin::Ranges(Some(text(&args[1])))),
            _ => Err(syntax_error()),
        },
        "nodes" => Ok(Admin::Nodes),
        "decommission" => super::parse_int(&args[1]).map(Admin::Decommission),
        "compact" => Ok(Admin::Compact),
        _ => return None,
    };
    Some(admin.map(Command::Admin))
}

/// Runs an operator command.
pub async fn run(ctx: &Context, admin: Admin) -> Reply {
    let result = match admin {
        Admin::Create {
            name,
            replicas,
            splits,
        } => create(ctx, &name, replicas, splits).await,
        Admin::Drop(name) => drop_table(ctx, &name).await,
        Admin::Tables => Ok(tables(&ctx.cluster.catalog())),
        Admin::Info(name) => table_info(ctx, &name).await,
        Admin::Ranges(table) => ranges(ctx, table.as_deref()),
        Admin::Nodes => nodes(ctx).await,
        Admin::Decommission(id) => decommission(ctx, id).await,
        Admin::Compact => compact(ctx).await,
    };
    result.unwrap_or_else(|reply| reply)
}

/// The storage-key prefix that `name:*` keys have in `default`.
fn default_prefix(name: &str) -> Vec<u8> {
    storage_key(DEFAULT_TABLE_ID, format!("{name}:").as_bytes())
}

async fn fence(ctx: &Context, name: &str, on: bool) -> Result<(i64, Option<Vec<u8>>), Reply> {
    let prefix = default_prefix(name);
    let results = run_in_range(
        ctx,
        &prefix,
        vec![Op::Fence {
            prefix: prefix.clone(),
            on,
        }],
    )
    .await?;
    match results.into_iter().next() {
        Some(OpResult::Array(items)) => {
            let count = match items.first() {
                Some(OpResult::Int(n)) => *n,
                _ => 0,
            };
            let example = match items.get(1) {
                Some(OpResult::Bulk(k)) => Some(k.clone()),
                _ => None,
            };
            Ok((count, example))
        }
        Some(OpResult::Error(e)) => Err(Reply::Error(e)),
        _ => Err(Reply::err("unexpected reply to a fence")),
    }
}

async fn create(
    ctx: &Context,
    name: &str,
    replicas: u8,
    splits: Vec<Vec<u8>>,
) -> Result<Reply, Reply> {
    if ctx.cluster.catalog().table_by_name(name).is_some() {
        return Err(Reply::err(format!("table '{name}' already exists")));
    }
    if let Some(problem) = tessera_meta::catalog::table_name_problem(name) {
        return Err(Reply::err(problem));
    }
    let (count, example) = fence(ctx, name, true).await?;
    if count > 0 {
        let _ = fence(ctx, name, false).await;
        let example = example
            .map(|k| String::from_utf8_lossy(&k[4..]).into_owned())
            .unwrap_or_default();
        return Err(Reply::err(format!(
            "cannot create table '{name}': the default table holds {count} key(s) starting with '{name}:' \
             (e.g. '{example}'); rename or delete them first"
        )));
    }
    if let Err(e) = ctx.meta.create_table(name, replicas, splits).await {
        let _ = fence(ctx, name, false).await;
        return Err(Reply::err(e));
    }
    wait_served(ctx, name).await?;
    Ok(Reply::Ok)
}

/// Waits until the router knows the table and every one of its ranges answers a read.
async fn wait_served(ctx: &Context, name: &str) -> Result<(), Reply> {
    let until = tokio::time::Instant::now() + SERVE_DEADLINE;
    let table = loop {
        if let Some(t) = ctx.cluster.catalog().table_by_name(name) {
            break t.id;
        }
        if tokio::time::Instant::now() >= until {
            return Err(Reply::Error(format!(
                "CLUSTERDOWN table '{name}' was created but is not served yet"
            )));
        }
        ctx.cluster.wait_for_newer_catalog(until).await;
    };
    // Thousands of new groups elect their leaders at once; probe many ranges at a
    // time and give each until the common deadline.
    let ranges = Cluster::table_ranges(&ctx.cluster.catalog(), table);
    let total = ranges.len();
    let probes = ranges.into_iter().map(|range| async move {
        loop {
            let probe = DataRequest::Read(vec![Op::Exists {
                keys: vec![range.start.clone()],
            }]);
            match ctx.cluster.call(&range.start, probe).await {
                Ok(_) => return Ok(true),
                Err(RouteError::Unavailable(_)) if tokio::time::Instant::now() < until => {}
                Err(RouteError::Unavailable(_)) => return Ok(false),
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

async fn drop_table(ctx: &Context, name: &str) -> Result<Reply, Reply> {
    if name == DEFAULT_TABLE {
        return Err(Reply::err("the default table cannot be dropped"));
    }
    ctx.meta.drop_table(name).await.map_err(Reply::err)?;
    // Keys `name:*` belong to `default` again.
    fence(ctx, name, false).await?;
    Ok(Reply::Ok)
}

fn tables(catalog: &Catalog) -> Reply {
    let mut names: Vec<&str> = catalog.tables.values().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    Reply::Array(
        names
            .into_iter()
            .map(|n| Reply::bulk(n.to_string()))
            .collect(),
    )
}

/// The user-visible form of a range bound: the key within its table.
fn bound(key: &[u8], table: &TableDesc, end: bool) -> Reply {
    if end && key == table_end(table.id).as_slice() {
        return Reply::Nil;
    }
    Reply::Bulk(Bytes::copy_from_slice(key.get(4..).unwrap_or_default()))
}

fn range_reply(ctx: &Context, catalog: &Catalog, range: &RangeDesc) -> Reply {
    let Some(table) = catalog.tables.get(&range.table) else {
        return Reply::Nil;
    };
    let members = catalog
        .groups
        .get(&range.group)
        .map(|g| g.members.clone())
        .unwrap_or_default();
    let leader = ctx
        .cluster
        .leader_of(range.group)
        .map_or(Reply::Nil, |l| Reply::Int(l as i64));
    Reply::Map(vec![
        (Reply::bulk("id"), Reply::Int(range.id as i64)),
        (Reply::bulk("table"), Reply::bulk(table.name.clone())),
        (Reply::bulk("start"), bound(&range.start, table, false)),
        (Reply::bulk("end"), bound(&range.end, table, true)),
        (Reply::bulk("epoch"), Reply::Int(range.epoch as i64)),
        (Reply::bulk("group"), Reply::Int(range.group as i64)),
        (Reply::bulk("leader"), leader),
        (
            Reply::bulk("replicas"),
            Reply::Array(members.into_iter().map(|m| Reply::Int(m as i64)).collect()),
        ),
    ])
}

fn ranges(ctx: &Context, table: Option<&str>) -> Result<Reply, Reply> {
    let catalog = ctx.cluster.catalog();
    let mut ranges: Vec<&RangeDesc> = match table {
        Some(name) => {
            let t = catalog
                .table_by_name(name)
                .ok_or_else(|| Reply::err(format!("no such table '{name}'")))?;
            catalog
                .ranges
                .values()
                .filter(|r| r.table == t.id)
                .collect()
        }
        None => catalog.ranges.values().collect(),
    };
    ranges.sort_by(|a, b| a.start.cmp(&b.start));
    Ok(Reply::Array(
        ranges
            .into_iter()
            .map(|r| range_reply(ctx, &catalog, r))
            .collect(),
    ))
}

async fn table_info(ctx: &Context, name: &str) -> Result<Reply, Reply> {
    let catalog = ctx.cluster.catalog();
    let table = catalog
        .table_by_name(name)
        .ok_or_else(|| Reply::err(format!("no such table '{name}'")))?;
    let ranges = Cluster::table_ranges(&catalog, table.id);
    let counts = futures::future::join_all(
        ranges
            .iter()
            .map(|r| ctx.cluster.call(&r.start, DataRequest::Count)),
    )
    .await;
    let (mut keys, mut bytes) = (0u64, 0u64);
    for count in counts {
        if let Ok(DataResponse::Count {
            keys: k, bytes: b, ..
        }) = count
        {
            keys += k;
            bytes += b;
        }
    }
    Ok(Reply::Map(vec![
        (Reply::bulk("id"), Reply::Int(i64::from(table.id))),
        (Reply::bulk("name"), Reply::bulk(table.name.clone())),
        (
            Reply::bulk("replicas"),
            Reply::Int(i64::from(table.replicas)),
        ),
        (Reply::bulk("keys"), Reply::Int(keys as i64)),
        (Reply::bulk("bytes"), Reply::Int(bytes as i64)),
        (
            Reply::bulk("ranges"),
            Reply::Array(
                ranges
                    .iter()
                    .map(|r| range_reply(ctx, &catalog, r))
                    .collect(),
            ),
        ),
    ]))
}

/// Asks every registered node to flush and fully compact its storage.
async fn compact(ctx: &Context) -> Result<Reply, Reply> {
    let catalog = ctx.cluster.catalog();
    let calls = catalog.nodes.values().map(|node| async move {
        let client = tessera_server::NodeClient::new(node.addr.clone());
        let outcome = client
            .call(&NodeRequest::Compact, Duration::from_secs(600))
            .await;
        match outcome {
            Ok(NodeResponse::Compacted(Ok(()))) => Ok(()),
            Ok(NodeResponse::Compacted(Err(e))) => Err(format!("node {}: {e}", node.id)),
            Ok(_) => Err(format!("node {}: unexpected reply", node.id)),
            Err(e) => Err(format!("node {}: {e}", node.id)),
        }
    });
    let failures: Vec<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if failures.is_empty() {
        Ok(Reply::Ok)
    } else {
        Err(Reply::err(format!(
            "COMPACT failed on {}",
            failures.join("; ")
        )))
    }
}

async fn decommission(ctx: &Context, id: i64) -> Result<Reply, Reply> {
    let id = u64::try_from(id).map_err(|_| Reply::err(format!("no such node {id}")))?;
    ctx.meta.decommission(id).await.map_err(Reply::err)?;
    Ok(Reply::Ok)
}

async fn nodes(ctx: &Context) -> Result<Reply, Reply> {
    let nodes = ctx.meta.nodes().await.map_err(Reply::err)?;
    Ok(Reply::Array(
        nodes
            .into_iter()
            .map(|n| {
                Reply::Map(vec![
                    (Reply::bulk("id"), Reply::Int(n.id as i64)),
                    (Reply::bulk("addr"), Reply::bulk(n.addr)),
                    (Reply::bulk("state"), Reply::bulk(n.state)),
                    (Reply::bulk("lifecycle"), Reply::bulk(n.lifecycle)),
                    (Reply::bulk("replicas"), Reply::Int(n.replicas as i64)),
                    (Reply::bulk("leaders"), Reply::Int(n.leaders as i64)),
                    (Reply::bulk("asleep"), Reply::Int(n.asleep as i64)),
                ])
            })
            .collect(),
    ))
}

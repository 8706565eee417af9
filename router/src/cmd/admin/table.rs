//! `TABLE INFO name`.

use super::describe::{loads, range_reply, table_named};
use crate::cmd::keyless::count as keyless_count;
use crate::cmd::{ClusterCommand, Parsed};
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::{wrong_arity, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `TABLE INFO`: a table's id, replication, ranges, keys and bytes.
pub struct Table(String);

impl Command for Table {
    const SPEC: CommandSpec = spec! {
        "table", -2, ["readonly"], (0, 0, 0), [],
        "tessera", "tessera-0.1", "TABLE INFO name: a table's id, replication, ranges, keys and bytes"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let raw = args.arg()?;
        match (raw.eq_ignore_ascii_case(b"info"), args.remaining()) {
            (true, 1) => {
                let name = String::from_utf8_lossy(&args.arg()?).into_owned();
                Ok(Parsed::cluster(Table(name)))
            }
            (true, _) => Err(wrong_arity("table|info")),
            (false, _) => Err(Reply::err(format!(
                "unknown subcommand '{}'. Try TABLE INFO name.",
                String::from_utf8_lossy(&raw)
            ))),
        }
    }
}

impl ClusterCommand for Table {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            let catalog = ctx.cluster.catalog();
            let table = match table_named(&catalog, &self.0) {
                Ok(t) => t.clone(),
                Err(reply) => return reply,
            };
            let ranges = catalog.table_ranges(table.id);
            let counts = ranges
                .iter()
                .map(|r| keyless_count(&ctx, r.start.clone(), r.end.clone()));
            let (mut keys, mut bytes) = (0u64, 0u64);
            for counted in futures::future::join_all(counts)
                .await
                .into_iter()
                .flatten()
            {
                keys += counted.keys;
                bytes += counted.bytes;
            }
            let loads = loads(&ctx).await;
            Reply::Map(vec![
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
                            .map(|r| range_reply(&ctx, &catalog, r, loads.get(&r.id)))
                            .collect(),
                    ),
                ),
            ])
        })
    }
}

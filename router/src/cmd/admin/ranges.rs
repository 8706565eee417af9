//! `RANGES [table]`.

use super::describe::{loads, range_reply, table_named};
use crate::cmd::{ClusterCommand, Parsed};
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::{syntax_error, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `RANGES`: the range map, of one table or all, in key order.
pub struct Ranges(Option<String>);

impl Command for Ranges {
    const SPEC: CommandSpec = spec! {
        "ranges", -1, ["readonly"], (0, 0, 0), [],
        "tessera", "tessera-0.1", "The range map, of one table or all"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let table = match args.remaining() {
            0 => None,
            1 => Some(String::from_utf8_lossy(&args.arg()?).into_owned()),
            _ => return Err(syntax_error()),
        };
        Ok(Parsed::cluster(Ranges(table)))
    }
}

impl ClusterCommand for Ranges {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        let catalog = ctx.cluster.catalog();
        let ranges = match &self.0 {
            Some(name) => match table_named(&catalog, name) {
                Ok(t) => catalog.table_ranges(t.id),
                Err(reply) => return Box::pin(async move { reply }),
            },
            None => {
                let mut all: Vec<_> = catalog.ranges.values().cloned().collect();
                all.sort_by(|a, b| a.start.cmp(&b.start));
                all
            }
        };
        Box::pin(async move {
            let loads = loads(&ctx).await;
            let reply = ranges
                .iter()
                .map(|r| range_reply(&ctx, &catalog, r, loads.get(&r.id)));
            Reply::Array(reply.collect())
        })
    }
}

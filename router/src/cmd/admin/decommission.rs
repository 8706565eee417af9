//! `DECOMMISSION node-id`.

use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::meta_error;
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `DECOMMISSION`: moves every replica off a storage node, then marks it removed.
pub struct Decommission(i64);

impl Command for Decommission {
    const SPEC: CommandSpec = spec! {
        "decommission", 2, ["write"], (0, 0, 0), [],
        "tessera", "tessera-0.1", "Move every replica off a storage node, then mark it removed: DECOMMISSION node-id"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(Parsed::cluster(Decommission(args.int()?)))
    }
}

impl ClusterCommand for Decommission {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            let Ok(id) = u64::try_from(self.0) else {
                return Reply::err(format!("no such node {}", self.0));
            };
            match ctx.meta.decommission(id).await {
                Ok(()) => Reply::Ok,
                Err(e) => meta_error(e),
            }
        })
    }
}

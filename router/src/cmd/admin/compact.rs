//! `COMPACT`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::{ClusterCommand, Parsed};
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tessera_proto::call::Routing;
use tessera_proto::node_api::{NodeRequest, NodeResponse};
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `COMPACT`: every storage node flushes and fully compacts its data and Raft logs.
pub struct Compact;

no_args_command!(Compact: spec! {
    "compact", 1, ["admin"], (0, 0, 0), [],
    "tessera", "tessera-0.1", "Flush and fully compact every storage node's data and Raft logs"
} => Parsed::cluster(Compact));

impl ClusterCommand for Compact {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            let catalog = ctx.cluster.catalog();
            let calls = catalog.nodes.values().map(|node| {
                let ctx = ctx.clone();
                async move {
                    let Some(client) = ctx.cluster.routing().client(node.id) else {
                        return Err(format!("node {}: address unknown", node.id));
                    };
                    let timeout = Duration::from_secs(600);
                    match client.call(&NodeRequest::Compact, timeout).await {
                        Ok(NodeResponse::Compacted(Ok(()))) => Ok(()),
                        Ok(NodeResponse::Compacted(Err(e))) => {
                            Err(format!("node {}: {e}", node.id))
                        }
                        Ok(_) => Err(format!("node {}: unexpected reply", node.id)),
                        Err(e) => Err(format!("node {}: {e}", node.id)),
                    }
                }
            });
            let failures: Vec<String> = futures::future::join_all(calls)
                .await
                .into_iter()
                .filter_map(Result::err)
                .collect();
            if failures.is_empty() {
                Reply::Ok
            } else {
                Reply::err(format!("COMPACT failed on {}", failures.join("; ")))
            }
        })
    }
}

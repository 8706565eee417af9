//! `COMPACT`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::{ClusterCommand, Parsed};
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
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
            let timeout = Duration::from_secs(600);
            let answers = ctx.cluster.ask_every_node(&NodeRequest::Compact, timeout);
            let failures: Vec<String> = answers
                .await
                .into_iter()
                .filter_map(|(node, answer)| match answer {
                    Ok(NodeResponse::Compacted(Ok(()))) => None,
                    Ok(NodeResponse::Compacted(Err(e))) => Some(format!("node {node}: {e}")),
                    Ok(_) => Some(format!("node {node}: unexpected reply")),
                    Err(e) => Some(format!("node {node}: {e}")),
                })
                .collect();
            if failures.is_empty() {
                Reply::Ok
            } else {
                Reply::err(format!("COMPACT failed on {}", failures.join("; ")))
            }
        })
    }
}

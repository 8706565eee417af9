//! `NODES`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::meta_error;
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `NODES`: the storage nodes as the meta leader sees them.
pub struct Nodes;

no_args_command!(Nodes: spec! {
    "nodes", 1, ["readonly"], (0, 0, 0), [],
    "tessera", "tessera-0.1", "The storage nodes with their state and replica and leader counts"
} => Parsed::cluster(Nodes));

impl ClusterCommand for Nodes {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            let nodes = match ctx.meta.nodes().await {
                Ok(nodes) => nodes,
                Err(e) => return meta_error(e),
            };
            let node = |n: tessera_proto::meta_api::NodeStatus| {
                Reply::Map(vec![
                    (Reply::bulk("id"), Reply::Int(n.id as i64)),
                    (Reply::bulk("addr"), Reply::bulk(n.addr)),
                    (Reply::bulk("state"), Reply::bulk(n.state)),
                    (Reply::bulk("lifecycle"), Reply::bulk(n.lifecycle)),
                    (Reply::bulk("replicas"), Reply::Int(n.replicas as i64)),
                    (Reply::bulk("leaders"), Reply::Int(n.leaders as i64)),
                    (Reply::bulk("asleep"), Reply::Int(n.asleep as i64)),
                ])
            };
            Reply::Array(nodes.into_iter().map(node).collect())
        })
    }
}

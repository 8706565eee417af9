//! `TABLES`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::{ClusterCommand, Parsed};
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `TABLES`: the names of the tables that serve, sorted.
pub struct Tables;

no_args_command!(Tables: spec! {
    "tables", 1, ["readonly"], (0, 0, 0), [],
    "tessera", "tessera-0.1", "List the tables"
} => Parsed::cluster(Tables));

impl ClusterCommand for Tables {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        let catalog = ctx.cluster.catalog();
        let mut names: Vec<String> = catalog
            .tables
            .values()
            .filter(|t| catalog.active_table(&t.name).is_some())
            .map(|t| t.name.clone())
            .collect();
        names.sort_unstable();
        let reply = Reply::Array(names.into_iter().map(Reply::bulk).collect());
        Box::pin(async move { reply })
    }
}

//! `DBSIZE`.

use super::listing::count_per_table;
use crate::cmd::kinds::no_args_command;
use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::call_error;
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `DBSIZE`: live keys over every table.
pub struct DbSize;

no_args_command!(DbSize: spec! {
    "dbsize", 1, ["readonly", "fast"], (0, 0, 0), ["@keyspace", "@read", "@fast"],
    "server", "1.0.0", "Return the number of keys in the selected database"
} => Parsed::cluster(DbSize));

impl ClusterCommand for DbSize {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            match count_per_table(&ctx).await {
                Ok(tables) => Reply::Int(tables.values().map(|c| c.keys).sum::<u64>() as i64),
                Err(e) => call_error(e),
            }
        })
    }
}

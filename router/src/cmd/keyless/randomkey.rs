//! `RANDOMKEY`.

use super::listing::read_keys;
use crate::cmd::kinds::no_args_command;
use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::call_error;
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::call::CallError;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `RANDOMKEY`: a key from a random point of a random range (nil if there is none).
pub struct RandomKey;

no_args_command!(RandomKey: spec! {
    "randomkey", 1, ["readonly"], (0, 0, 0), ["@keyspace", "@read", "@slow"],
    "generic", "1.0.0", "Return a random key from the keyspace"
} => Parsed::cluster(RandomKey));

impl ClusterCommand for RandomKey {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move { random_key(&ctx).await.unwrap_or_else(call_error) })
    }
}

async fn random_key(ctx: &Context) -> Result<Reply, CallError> {
    let ranges: Vec<_> = ctx.cluster.routing().ranges().iter().cloned().collect();
    if ranges.is_empty() {
        return Ok(Reply::Nil);
    }
    let seed = tessera_common::identity::random();
    let first = (seed % ranges.len() as u64) as usize;
    // Start at a random point of a random range, then from its start, then the other
    // ranges in turn.
    let mut probe = ranges[first].start.clone();
    probe.extend_from_slice(&(seed >> 8).to_be_bytes()[..3]);
    let mut starts = vec![(probe, &ranges[first])];
    let rotated = ranges[first..].iter().chain(&ranges[..first]);
    starts.extend(rotated.map(|r| (r.start.clone(), r)));
    for (start, range) in starts {
        let start = start.min(range.end.clone());
        let (keys, _) = read_keys(ctx, start, &range.end, 1, None).await?;
        if let Some(key) = keys.first() {
            return Ok(Reply::bulk(ctx.cluster.catalog().user_key(key)));
        }
    }
    Ok(Reply::Nil)
}

//! `KEYS pattern`.

use super::listing::list_keys;
use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::call_error;
use crate::{glob, Context};
use bytes::Bytes;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::keys::prefix_end;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// Keys fetched per range request by KEYS.
const KEYS_PAGE: usize = 1_000;

/// `KEYS`: every key matching the pattern, in byte order; only the ranges that can
/// hold the pattern's literal prefix are read.
pub struct Keys(Bytes);

impl Command for Keys {
    const SPEC: CommandSpec = spec! {
        "keys", 2, ["readonly"], (0, 0, 0), ["@keyspace", "@read", "@slow", "@dangerous"],
        "generic", "1.0.0", "Find all keys matching the given pattern"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(Parsed::cluster(Keys(args.arg()?)))
    }
}

impl ClusterCommand for Keys {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            let pattern = self.0;
            let literal = crate::glob::literal_prefix(&pattern);
            let stop = (!literal.is_empty())
                .then(|| prefix_end(&literal))
                .flatten();
            let mut pos = literal;
            let mut out = Vec::new();
            loop {
                let page = list_keys(&ctx, pos, stop.as_deref(), KEYS_PAGE, None).await;
                let (keys, resume) = match page {
                    Ok(page) => page,
                    Err(e) => return call_error(e),
                };
                let matching = keys.into_iter().filter(|k| glob::matches(&pattern, k));
                out.extend(matching.map(|k| Reply::Bulk(Bytes::from(k))));
                match resume {
                    Some(next) => pos = next,
                    None => return Reply::Array(out),
                }
            }
        })
    }
}

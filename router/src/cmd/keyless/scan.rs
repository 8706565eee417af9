//! `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.

use super::listing::list_keys;
use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::call_error;
use crate::{glob, Context};
use bytes::Bytes;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::keys::{prefix_end, type_tag};
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// Keys a SCAN call fetches at most, whatever COUNT says.
const MAX_SCAN_COUNT: usize = 100_000;

/// `SCAN`: keys in byte order; the cursor is a number this router maps to the key the
/// scan resumes from. A key present for the whole scan is returned exactly once.
pub struct Scan {
    cursor: u64,
    pattern: Option<Bytes>,
    count: usize,
    /// `TYPE`: `Some(None)` for a name no value has (nothing matches).
    kind: Option<Option<u8>>,
}

impl Command for Scan {
    const SPEC: CommandSpec = spec! {
        "scan", -2, ["readonly"], (0, 0, 0), ["@keyspace", "@read", "@slow"],
        "generic", "2.8.0", "Incrementally iterate the keys space"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let cursor = args.cursor()?;
        let options = args.scan_options(true)?;
        Ok(Parsed::cluster(Scan {
            cursor,
            pattern: options.pattern,
            count: options.count.min(MAX_SCAN_COUNT as u64) as usize,
            kind: options.kind.map(|name| type_tag(&name)),
        }))
    }
}

impl ClusterCommand for Scan {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move { self.scan(&ctx).await })
    }
}

impl Scan {
    async fn scan(self, ctx: &Context) -> Reply {
        let literal = self
            .pattern
            .as_deref()
            .map(glob::literal_prefix)
            .unwrap_or_default();
        let stop = (!literal.is_empty())
            .then(|| prefix_end(&literal))
            .flatten();
        let pos = if self.cursor == 0 {
            literal.clone()
        } else {
            match ctx.cursors.get(self.cursor) {
                Some(pos) => pos,
                None => {
                    return Reply::err(
                        "invalid cursor (unknown or expired; restart the scan from 0)",
                    )
                }
            }
        };
        let (keys, resume) =
            match list_keys(ctx, pos, stop.as_deref(), self.count, self.kind.flatten()).await {
                Ok(found) => found,
                Err(e) => return call_error(e),
            };
        let next = resume.map_or(0, |pos| ctx.cursors.insert(pos));
        let visible = keys
            .into_iter()
            .filter(|k| {
                self.kind != Some(None) && self.pattern.as_ref().is_none_or(|p| glob::matches(p, k))
            })
            .map(|k| Reply::Bulk(Bytes::from(k)))
            .collect();
        Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(visible)])
    }
}

//! `FLUSHALL [ASYNC|SYNC]` and `FLUSHDB [ASYNC|SYNC]`.

use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::call_error;
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::call::CallError;
use tessera_proto::data::{DataRequest, DataResponse};
use tessera_proto::op::Command;
use tessera_proto::reply::{syntax_error, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `FLUSHALL`: deletes every key of every range (each range atomically, one after the
/// other).
pub struct FlushAll;

fn parse_mode(args: &mut Args) -> Result<Parsed, Reply> {
    match args.option().as_deref() {
        None | Some("async" | "sync") if args.is_empty() => Ok(Parsed::cluster(FlushAll)),
        _ => Err(syntax_error()),
    }
}

impl Command for FlushAll {
    const SPEC: CommandSpec = spec! {
        "flushall", -1, ["write"], (0, 0, 0), ["@keyspace", "@write", "@slow", "@dangerous"],
        "server", "1.0.0", "Remove all keys from all databases"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        parse_mode(args)
    }
}

tessera_proto::alias_command! {
    /// `FLUSHDB`: `FLUSHALL` (Tessera has one database).
    FlushDb: spec! {
        "flushdb", -1, ["write"], (0, 0, 0), ["@keyspace", "@write", "@slow", "@dangerous"],
        "server", "1.0.0", "Remove all keys from the current database"
    } => Parsed, parse_mode
}

impl ClusterCommand for FlushAll {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            let ranges = ctx.cluster.routing().ranges();
            let clears = ranges.iter().map(|r| clear(&ctx, r.start.clone(), &r.end));
            for cleared in futures::future::join_all(clears).await {
                if let Err(e) = cleared {
                    return call_error(e);
                }
            }
            Reply::Ok
        })
    }
}

/// Clears the ranges covering `[pos, end)`: usually one, more if it split since this
/// router last heard.
async fn clear(ctx: &Context, mut pos: Vec<u8>, end: &[u8]) -> Result<(), CallError> {
    while pos.as_slice() < end {
        match ctx.cluster.call(&pos, DataRequest::Clear).await? {
            DataResponse::Cleared { next } if next.as_ref() > pos.as_slice() => pos = next.to_vec(),
            _ => return Err(CallError::Failed("unexpected reply to a flush".into())),
        }
    }
    Ok(())
}

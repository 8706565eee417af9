//! `WATCH key [key ...]`.

use crate::cmd::data::run;
use crate::cmd::Session;
use crate::cmd::{ExclusiveCommand, Parsed};
use crate::Context;
use bytes::Bytes;
use futures::future::BoxFuture;
use tessera_proto::args::Args;
use tessera_proto::commands::txn::Version;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `WATCH`: remembers each key's version (the sequence number of its last write); `EXEC`
/// applies nothing if any of them changed.
pub struct Watch(Vec<Bytes>);

impl Command for Watch {
    const SPEC: CommandSpec = spec! {
        "watch", -2, ["noscript", "loading", "stale", "fast", "allow_busy"], (1, -1, 1), ["@fast", "@transaction"],
        "transactions", "2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(Parsed::Exclusive(Box::new(Watch(args.rest()))))
    }
}

impl ExclusiveCommand for Watch {
    fn run<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        session: &'a mut Session,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            if session.multi.is_some() {
                return Reply::err("WATCH inside MULTI is not allowed");
            }
            for key in self.0 {
                let version = match run(ctx, Version { key: key.clone() }.into()).await {
                    Reply::Bulk(v) => Some(v),
                    Reply::Nil => None,
                    error => return error,
                };
                session.watches.push((key, version));
            }
            Reply::Ok
        })
    }
}

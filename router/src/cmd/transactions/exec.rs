//! `EXEC`.

use crate::cmd::data::{run_in_one_range, to_storage_keys, RangeFailure};
use crate::cmd::kinds::no_args_command;
use crate::cmd::Session;
use crate::cmd::{ExclusiveCommand, Parsed};
use crate::errors::{call_error, cross_range_transaction};
use crate::Context;
use futures::future::BoxFuture;
use tessera_proto::op::Txn;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `EXEC`: runs the queued commands as one transaction.
pub struct Exec;

no_args_command!(Exec: spec! {
    "exec", 1, ["noscript", "loading", "stale", "skip_slowlog"], (0, 0, 0), ["@slow", "@transaction"],
    "transactions", "1.2.0", "Execute all commands issued after MULTI"
} => Parsed::Exclusive(Box::new(Exec)));

/// One queued command, as EXEC will answer it.
enum Slot {
    /// Answered without the cluster (PING, or an error found when parsing).
    Local(Reply),
    /// The `i`-th op of the transaction.
    Op(usize),
}

impl ExclusiveCommand for Exec {
    fn run<'a>(
        self: Box<Self>,
        ctx: &'a Context,
        session: &'a mut Session,
    ) -> BoxFuture<'a, Reply> {
        Box::pin(exec(ctx, session))
    }
}

async fn exec(ctx: &Context, session: &mut Session) -> Reply {
    let Some(queued) = session.multi.take() else {
        return Reply::err("EXEC without MULTI");
    };
    let watches = std::mem::take(&mut session.watches);
    if std::mem::take(&mut session.multi_failed) {
        return Reply::Error("EXECABORT Transaction discarded because of previous errors.".into());
    }
    let mut slots = Vec::with_capacity(queued.len());
    let mut ops = Vec::new();
    for parsed in queued {
        slots.push(match parsed {
            Parsed::Reply(reply) => Slot::Local(reply),
            Parsed::Session(command) => Slot::Local(command.run(ctx, session)),
            Parsed::Op(op) => {
                ops.push(op);
                Slot::Op(ops.len() - 1)
            }
            // `prepare` queues these as the error they answer inside MULTI.
            Parsed::Exclusive(_) | Parsed::Cluster(_) => {
                Slot::Local(Reply::err("this command cannot run inside MULTI"))
            }
        });
    }
    let mut replies = if ops.is_empty() && watches.is_empty() {
        Vec::new()
    } else {
        match run_txn(ctx, Txn { watches, ops }).await {
            Ok(replies) => replies,
            Err(reply) => return reply,
        }
    }
    .into_iter()
    .map(Some)
    .collect::<Vec<_>>();
    let replies = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Local(reply) => reply,
            Slot::Op(i) => replies[i]
                .take()
                .unwrap_or_else(|| Reply::err("missing result")),
        })
        .collect();
    Reply::Array(replies)
}

/// Runs the transaction as one op in one range: its replies, or the reply for all.
async fn run_txn(ctx: &Context, txn: Txn) -> Result<Vec<Reply>, Reply> {
    let mut op = txn.into();
    to_storage_keys(&ctx.cluster.catalog(), &mut op)?;
    match run_in_one_range(ctx, op).await {
        Ok(Reply::Array(replies)) => Ok(replies),
        Ok(other) => Err(other),
        Err(RangeFailure::CrossRange(_)) => Err(cross_range_transaction()),
        Err(RangeFailure::Call(e)) => Err(call_error(e)),
    }
}

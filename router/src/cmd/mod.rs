//! Commands: validation against the command table (arity, authentication), queueing
//! inside `MULTI`, and running what each command parses into (see [`kinds`]).
//!
//! Each command is a type in its own file — data commands in `proto` (their node-side
//! evaluation in the storage node's engine), router commands here by group — and one
//! line of the [`table`]. `docs/contributing.md` walks through adding one.

mod admin;
mod connection;
pub(crate) mod data;
mod keyless;
mod kinds;
mod object;
mod table;
mod transactions;

pub use kinds::{find, ClusterCommand, Entry, ExclusiveCommand, Parsed, Session, SessionCommand};
pub use table::{lookup, COMMANDS};

use crate::Context;
use bytes::Bytes;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::reply::{wrong_arity, Reply};

/// Redis's reply to a command it does not know.
pub fn unknown_command(args: &[Bytes]) -> Reply {
    let mut shown = String::new();
    for arg in args.iter().skip(1) {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        let text: String = String::from_utf8_lossy(arg).chars().take(room).collect();
        shown.push_str(&format!("'{text}' "));
    }
    let name: String = String::from_utf8_lossy(&args[0])
        .chars()
        .take(128)
        .collect();
    Reply::err(format!(
        "unknown command '{name}', with args beginning with: {shown}"
    ))
}

/// What a request touches, to decide whether it may run concurrently with the
/// requests before it on the same connection.
#[derive(Clone, Debug)]
pub struct Access {
    /// It changes data.
    pub write: bool,
    /// The keys it touches; `None` means the whole keyspace (SCAN, DBSIZE, ...).
    pub keys: Option<Vec<Bytes>>,
}

impl Access {
    /// Whether `self` must wait for `earlier` to finish: a write and any other access to
    /// a common key (or to the whole keyspace) must keep their order.
    pub fn conflicts_with(&self, earlier: &Access) -> bool {
        if !self.write && !earlier.write {
            return false;
        }
        match (&self.keys, &earlier.keys) {
            (Some(mine), Some(theirs)) => mine.iter().any(|k| theirs.contains(k)),
            _ => true,
        }
    }
}

/// A request ready to run.
pub enum Prepared {
    /// The reply is known.
    Ready(Reply),
    /// The reply comes from the cluster.
    Pending(BoxFuture<'static, Reply>, Access),
    /// It needs the session and the cluster: run it with [`run_exclusive`] once every
    /// earlier request has finished.
    Exclusive(Box<dyn ExclusiveCommand>),
}

/// Commands that are not queued by MULTI.
const NOT_QUEUED: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// Whether a request is a blocking command (`BLPOP`, ...), which may wait for long.
pub fn is_blocking(args: &[Bytes]) -> bool {
    let Some(name) = args.first() else {
        return false;
    };
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    lookup(&name).is_some_and(|e| e.spec.flags.contains(&"blocking"))
}

/// Prepares one request: validates name, arity and authentication, queues it inside
/// MULTI, runs session commands at once, and wraps the others in a future.
pub fn prepare(ctx: &Arc<Context>, session: &mut Session, args: Vec<Bytes>) -> Prepared {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let refuse = |session: &mut Session, reply: Reply| {
        if session.multi.is_some() {
            session.multi_failed = true;
        }
        Prepared::Ready(reply)
    };
    let Some(entry) = lookup(&name) else {
        return refuse(session, unknown_command(&args));
    };
    let spec = entry.spec;
    if !spec.arity_ok(args.len()) {
        return refuse(session, wrong_arity(spec.name));
    }
    if !session.authenticated && !spec.no_auth() {
        let noauth = Reply::Error("NOAUTH Authentication required.".into());
        return refuse(session, noauth);
    }
    let mut parsed_args = Args::new(&args, ctx.limits());
    let parsed = (entry.parse)(&mut parsed_args).unwrap_or_else(Parsed::Reply);
    if session.multi.is_some() && !NOT_QUEUED.contains(&spec.name) {
        let parsed = match parsed {
            Parsed::Cluster(_) | Parsed::Exclusive(_) => Parsed::Reply(Reply::err(format!(
                "{} cannot run inside MULTI: it reads or changes every range",
                spec.name.to_ascii_uppercase()
            ))),
            other => other,
        };
        session.multi.get_or_insert_with(Vec::new).push(parsed);
        return Prepared::Ready(Reply::Status("QUEUED".into()));
    }
    let access = || Access {
        write: spec.is_write(),
        keys: spec.keys(&args),
    };
    match parsed {
        Parsed::Reply(reply) => Prepared::Ready(reply),
        Parsed::Session(command) => Prepared::Ready(command.run(ctx, session)),
        Parsed::Exclusive(command) => Prepared::Exclusive(command),
        Parsed::Op(op) => {
            let ctx = ctx.clone();
            Prepared::Pending(Box::pin(async move { data::run(&ctx, op).await }), access())
        }
        Parsed::Cluster(command) => Prepared::Pending(command.run(ctx.clone()), access()),
    }
}

/// Runs a request that needs both the session and the cluster.
pub async fn run_exclusive(
    ctx: &Context,
    session: &mut Session,
    command: Box<dyn ExclusiveCommand>,
) -> Reply {
    command.run(ctx, session).await
}

#[cfg(test)]
mod tests;

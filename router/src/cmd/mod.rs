//! Commands: validation against the command table (arity, authentication), queueing
//! inside `MULTI`, and running what each command parses into (see [`kinds`]).
//!
//! Each command is a type in its own file — data commands in `proto` (their node-side
//! evaluation in the storage node's engine), router commands here by group — and one
//! line of the [`table`]. `docs/contributing.md` walks through adding one.

mod admin;
mod connection;
pub(crate) mod data;
mod introspection;
mod keyless;
mod kinds;
mod object;
mod table;
mod transactions;

pub use kinds::{find, ClusterCommand, Entry, ExclusiveCommand, Parsed, Session, SessionCommand};
pub use table::{lookup, COMMANDS};

use crate::clients::ClientHandle;
use crate::stats::CommandStats;
use crate::Context;
use bytes::Bytes;
use futures::future::BoxFuture;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_proto::args::Args;
use tessera_proto::op::Op;
use tessera_proto::reply::{wrong_arity, Reply};
use tessera_proto::spec::CommandSpec;

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
    /// The keys it touches.
    pub keys: Keys,
}

/// The keys a request touches (one key, the common case, needs no allocation).
#[derive(Clone, Debug)]
pub enum Keys {
    /// The whole keyspace (SCAN, DBSIZE, ...).
    All,
    One(Bytes),
    Many(Vec<Bytes>),
}

impl Keys {
    /// The keys of a request of `spec` with `args`.
    pub fn of(spec: &CommandSpec, args: &[Bytes]) -> Self {
        match spec.key_positions(args.len()) {
            None => Keys::All,
            Some(mut at) => match (at.next(), at.len()) {
                (Some(only), 0) => Keys::One(args[only].clone()),
                (first, _) => Keys::Many(
                    first
                        .into_iter()
                        .chain(at)
                        .map(|i| args[i].clone())
                        .collect(),
                ),
            },
        }
    }

    fn as_slice(&self) -> Option<&[Bytes]> {
        match self {
            Keys::All => None,
            Keys::One(key) => Some(std::slice::from_ref(key)),
            Keys::Many(keys) => Some(keys),
        }
    }
}

impl Access {
    /// Whether `self` must wait for `earlier` to finish: a write and any other access to
    /// a common key (or to the whole keyspace) must keep their order.
    pub fn conflicts_with(&self, earlier: &Access) -> bool {
        if !self.write && !earlier.write {
            return false;
        }
        match (self.keys.as_slice(), earlier.keys.as_slice()) {
            (Some(mine), Some(theirs)) => mine.iter().any(|k| theirs.contains(k)),
            _ => true,
        }
    }
}

/// A request ready to run.
// Moved once, from `prepare` to the connection: boxing the large variant would cost an
// allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Prepared {
    /// The reply is known.
    Ready(Reply),
    /// The reply comes from the cluster.
    Pending(BoxFuture<'static, Reply>, Access),
    /// A single-key data op ([`data::batchable`]): the connection runs it together with
    /// the ops pipelined next to it ([`run_ops`]).
    Op(Op, Access, Recorder),
    /// It needs the session and the cluster: run it with [`run_exclusive`] once every
    /// earlier request has finished.
    Exclusive(Box<dyn ExclusiveCommand>, Recorder),
}

/// Commands that are not queued by MULTI.
const NOT_QUEUED: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// The table entry of a request's command, if it is one Tessera knows (looked up once
/// per request: the connection needs it before [`prepare`], which takes it).
pub fn entry_of(args: &[Bytes]) -> Option<&'static Entry> {
    // Lower-cased on the stack: no command name is longer than the buffer, and one
    // that is not ASCII is no command either.
    let name = args.first()?;
    let mut lower = [0u8; 32];
    let lower = lower.get_mut(..name.len())?;
    for (to, from) in lower.iter_mut().zip(name.iter()) {
        *to = from.to_ascii_lowercase();
    }
    lookup(std::str::from_utf8(lower).ok()?)
}

pub(crate) use tessera_proto::reply::{subcommand_syntax_error, unknown_subcommand};

/// Counts one call of a command when its reply is known (INFO commandstats, SLOWLOG,
/// the latency monitor, Prometheus).
pub struct Recorder {
    command: Arc<CommandStats>,
    started: Instant,
    args: Vec<Bytes>,
    client: Arc<ClientHandle>,
    /// A blocking command: its wait is not its latency.
    blocking: bool,
}

impl Recorder {
    /// Records the call's reply and duration.
    pub fn finish(self, ctx: &Context, reply: &Reply) {
        let elapsed = if self.blocking {
            Duration::ZERO
        } else {
            self.started.elapsed()
        };
        ctx.stats.finish(&self.command, elapsed, reply);
        let micros = elapsed.as_micros() as u64;
        let slowlog = !self.command.skip_slowlog && ctx.stats.slowlog.wants(micros);
        let monitor = &ctx.stats.latency;
        let latency = monitor.wants(micros / 1000);
        if slowlog || latency {
            let now = unix_micros() / 1_000_000;
            if slowlog {
                let (addr, name) = (self.client.addr.to_string(), self.client.name());
                let name = name.unwrap_or_default();
                ctx.stats
                    .slowlog
                    .push(micros, &self.args, addr, name, now as i64);
            }
            let event = if self.command.fast {
                "fast-command"
            } else {
                "command"
            };
            monitor.observe(event, micros / 1000, now as i64);
        }
    }
}

/// Microseconds since the Unix epoch (SLOWLOG, MONITOR).
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The name a call is counted under: `container|subcommand` for the subcommands of
/// `CLIENT`, `CONFIG` and the like that parsed (so the names stay a bounded set).
fn counted_name(spec: &'static CommandSpec, args: &[Bytes], parsed: &Parsed) -> Cow<'static, str> {
    let container = spec.summary.starts_with("A container for");
    let failed = matches!(parsed, Parsed::Reply(reply) if reply.is_error());
    match args.get(1) {
        Some(sub) if container && !failed => Cow::Owned(format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        )),
        _ => Cow::Borrowed(spec.name),
    }
}

/// Prepares one request (`entry`: its command's, from [`entry_of`]): validates name,
/// arity and authentication, queues it inside MULTI, runs session commands at once, and
/// wraps the others in a future.
pub fn prepare(
    ctx: &Arc<Context>,
    session: &mut Session,
    entry: Option<&'static Entry>,
    args: Vec<Bytes>,
) -> Prepared {
    let started = Instant::now();
    let refuse = |session: &mut Session, command: Option<&CommandStats>, reply: Reply| {
        if session.multi.is_some() {
            session.multi_failed = true;
        }
        ctx.stats.reject(command, &reply);
        Prepared::Ready(reply)
    };
    let Some(entry) = entry else {
        return refuse(session, None, unknown_command(&args));
    };
    let spec = entry.spec;
    if !spec.arity_ok(args.len()) {
        let command = ctx.stats.command(spec.name, spec);
        return refuse(session, Some(&command), wrong_arity(spec.name));
    }
    if !session.authenticated && !spec.no_auth() {
        let noauth = Reply::Error("NOAUTH Authentication required.".into());
        return refuse(session, None, noauth);
    }
    let mut parsed_args = Args::new(&args, ctx.limits());
    let parsed = (entry.parse)(&mut parsed_args).unwrap_or_else(Parsed::Reply);
    let command = ctx.stats.command(&counted_name(spec, &args, &parsed), spec);
    session.client.touch(&command);
    if ctx.clients.monitored() && !command.skip_monitor && !spec.no_auth() {
        let line = crate::clients::monitor_line(unix_micros(), &session.client.addr, &args);
        ctx.clients.feed_monitors(line);
    }
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
        keys: Keys::of(spec, &args),
    };
    let blocking = spec.flags.contains(&"blocking");
    let recorder = |args| Recorder {
        command,
        started,
        args,
        client: session.client.clone(),
        blocking,
    };
    let ready = |reply: Reply, recorder: Recorder| {
        recorder.finish(ctx, &reply);
        Prepared::Ready(reply)
    };
    match parsed {
        Parsed::Reply(reply) => ready(reply, recorder(args)),
        Parsed::Session(command) => {
            let recorder = recorder(args);
            ready(command.run(ctx, session), recorder)
        }
        Parsed::Exclusive(command) => Prepared::Exclusive(command, recorder(args)),
        Parsed::Op(op) if data::batchable(&op) => Prepared::Op(op, access(), recorder(args)),
        Parsed::Op(op) => {
            let access = access();
            Prepared::Pending(run_op(ctx, op, recorder(args)), access)
        }
        Parsed::Cluster(command) => {
            let (ctx, access) = (ctx.clone(), access());
            let recorder = recorder(args);
            let fut = command.run(ctx.clone());
            Prepared::Pending(
                Box::pin(async move {
                    let reply = fut.await;
                    recorder.finish(&ctx, &reply);
                    reply
                }),
                access,
            )
        }
    }
}

/// Runs one data op as a client command ([`data::run`]), recorded when it is done.
pub fn run_op(ctx: &Arc<Context>, op: Op, recorder: Recorder) -> BoxFuture<'static, Reply> {
    let ctx = ctx.clone();
    Box::pin(async move {
        let reply = data::run(&ctx, op).await;
        recorder.finish(&ctx, &reply);
        reply
    })
}

/// Runs the ops of [`Prepared::Op`]s a connection collected (all reads or all writes,
/// no two touching a common key) with one call per range ([`data::run_many`]): their
/// replies in order, each recorded under its own request.
pub fn run_ops(
    ctx: &Arc<Context>,
    ops: Vec<Op>,
    recorders: Vec<Recorder>,
) -> BoxFuture<'static, Vec<Reply>> {
    let ctx = ctx.clone();
    Box::pin(async move {
        let replies = data::run_many(&ctx, ops).await;
        for (recorder, reply) in recorders.into_iter().zip(&replies) {
            recorder.finish(&ctx, reply);
        }
        replies
    })
}

/// Runs a request that needs both the session and the cluster.
pub async fn run_exclusive(
    ctx: &Context,
    session: &mut Session,
    command: Box<dyn ExclusiveCommand>,
    recorder: Recorder,
) -> Reply {
    let reply = command.run(ctx, session).await;
    recorder.finish(ctx, &reply);
    reply
}

#[cfg(test)]
mod tests;

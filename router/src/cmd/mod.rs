//! Commands: validation against the command table, parsing into what the cluster
//! executes, and the per-connection session (protocol, auth, MULTI/WATCH state).
//!
//! Connection commands touch only the session and answer at once. Data commands parse
//! into a [`Command`]: a local reply, one [`Op`] routed by its keys (split per range for
//! MGET/MSET/DEL/EXISTS, refused across ranges for the others), or a keyless operation
//! over every range. `WATCH` and `EXEC` need both the session and the cluster and run
//! after the requests before them on the connection.

mod admin;
mod connection;
mod keyspace;
mod server;
mod strings;
mod table;
mod transactions;

pub use table::COMMANDS;

use crate::cluster::{Cluster, RouteError};
use crate::reply::Reply;
use crate::Context;
use bytes::Bytes;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;
use tessera_server::{Op, OpResult};

/// Per-connection state.
#[derive(Debug)]
pub struct Session {
    /// The client id.
    pub id: u64,
    /// RESP version in use (2 or 3).
    pub proto: u8,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// Close after this reply (QUIT).
    pub quit: bool,
    /// Passed `AUTH` (or no password is configured).
    pub authenticated: bool,
    /// Commands queued since `MULTI`.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was refused while queueing: `EXEC` must abort.
    pub multi_failed: bool,
    /// Watched storage keys and the version each had when watched.
    pub watches: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Session {
    /// A fresh session for client `id`.
    pub fn new(id: u64, authenticated: bool) -> Self {
        Self {
            id,
            proto: 2,
            name: None,
            quit: false,
            authenticated,
            multi: None,
            multi_failed: false,
            watches: Vec::new(),
        }
    }
}

/// What the router knows about one command.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact if positive, minimum if negative (the name counts).
    pub arity: i32,
    /// Redis command flags.
    pub flags: &'static [&'static str],
    /// First key argument (0: none).
    pub first_key: i32,
    /// Last key argument (negative: counted from the end).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Redis's ACL categories.
    pub acl: &'static [&'static str],
    /// Redis's command group.
    pub group: &'static str,
    /// The Redis version that introduced it.
    pub since: &'static str,
    /// One-line summary.
    pub summary: &'static str,
}

impl CommandSpec {
    /// The key arguments of a call, from the spec's key positions; `None` for a
    /// command without key arguments.
    pub fn keys(&self, args: &[Bytes]) -> Option<Vec<Bytes>> {
        if self.first_key <= 0 {
            return None;
        }
        let last = if self.last_key < 0 {
            args.len() as i32 + self.last_key
        } else {
            self.last_key
        };
        let last = (last.max(0) as usize).min(args.len().saturating_sub(1));
        let step = self.step.max(1) as usize;
        Some(
            (self.first_key as usize..=last)
                .step_by(step)
                .map(|i| args[i].clone())
                .collect(),
        )
    }

    fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }
}

/// The spec of command `name` (lower-case).
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS
        .binary_search_by(|c| c.name.cmp(name))
        .ok()
        .map(|i| &COMMANDS[i])
}

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

/// Redis's reply to a call with the wrong number of arguments.
pub fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

/// Redis's generic syntax error.
pub fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

/// Parses an integer argument exactly as Redis does.
pub fn parse_int(arg: &[u8]) -> Result<i64, Reply> {
    tessera_server::ops::parse_redis_int(arg)
        .ok_or_else(|| Reply::err("value is not an integer or out of range"))
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
    /// It needs the session and the cluster (WATCH, EXEC): run it with
    /// [`run_in_session`] once every earlier request has finished.
    InSession(Vec<Bytes>),
}

/// What a data command becomes once parsed.
pub enum Command {
    /// Answered without the cluster.
    Local(Reply),
    /// One op routed by its keys.
    Op(Op),
    /// Work over every range.
    Keyless(Keyless),
    /// An operator command.
    Admin(admin::Admin),
}

/// Commands that read or change the whole keyspace.
pub enum Keyless {
    /// `DBSIZE`.
    DbSize,
    /// `SCAN`.
    Scan(keyspace::ScanArgs),
    /// `KEYS pattern`.
    Keys(Bytes),
    /// `RANDOMKEY`.
    RandomKey,
    /// `FLUSHALL`, `FLUSHDB`.
    Flush,
    /// `INFO [section ...]`.
    Info(Vec<Bytes>),
}

/// Commands that run inside the session even outside MULTI.
const SESSION_ONLY: &[&str] = &["exec", "watch"];
/// Commands that are not queued by MULTI.
const NOT_QUEUED: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// Prepares one request: validates name, arity and authentication, queues it inside
/// MULTI, runs connection commands at once, and wraps data commands in a future.
pub fn prepare(ctx: &Arc<Context>, session: &mut Session, args: Vec<Bytes>) -> Prepared {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let refuse = |session: &mut Session, reply: Reply| {
        if session.multi.is_some() {
            session.multi_failed = true;
        }
        Prepared::Ready(reply)
    };
    let Some(spec) = lookup(&name) else {
        return refuse(session, unknown_command(&args));
    };
    let argc = args.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity) {
        return refuse(session, wrong_arity(spec.name));
    }
    if !session.authenticated && !spec.flags.contains(&"no_auth") {
        return refuse(
            session,
            Reply::Error("NOAUTH Authentication required.".into()),
        );
    }
    if session.multi.is_some() && !NOT_QUEUED.contains(&spec.name) {
        session.multi.get_or_insert_with(Vec::new).push(args);
        return Prepared::Ready(Reply::Status("QUEUED".into()));
    }
    if SESSION_ONLY.contains(&spec.name) {
        return Prepared::InSession(args);
    }
    if let Some(reply) = connection::run(ctx, session, spec.name, &args) {
        return Prepared::Ready(reply);
    }
    let command = match parse(ctx, spec.name, &args) {
        Ok(Command::Local(reply)) | Err(reply) => return Prepared::Ready(reply),
        Ok(command) => command,
    };
    let access = Access {
        write: spec.is_write(),
        keys: spec.keys(&args),
    };
    let ctx = ctx.clone();
    Prepared::Pending(
        Box::pin(async move { execute(&ctx, command).await }),
        access,
    )
}

/// Runs a request that needs both the session and the cluster.
pub async fn run_in_session(ctx: &Context, session: &mut Session, args: Vec<Bytes>) -> Reply {
    match String::from_utf8_lossy(&args[0])
        .to_ascii_lowercase()
        .as_str()
    {
        "watch" => transactions::watch(ctx, session, &args).await,
        "exec" => transactions::exec(ctx, session).await,
        _ => unknown_command(&args),
    }
}

/// Parses a data command.
fn parse(ctx: &Context, name: &str, args: &[Bytes]) -> Result<Command, Reply> {
    strings::parse(ctx, name, args)
        .or_else(|| keyspace::parse(ctx, name, args))
        .or_else(|| server::parse(name, args))
        .or_else(|| admin::parse(name, args))
        .unwrap_or_else(|| Err(unknown_command(args)))
}

/// Executes a parsed data command.
async fn execute(ctx: &Context, command: Command) -> Reply {
    match command {
        Command::Local(reply) => reply,
        Command::Op(op) => run_op(ctx, op).await,
        Command::Keyless(keyless) => keyspace::run_keyless(ctx, keyless).await,
        Command::Admin(admin) => admin::run(ctx, admin).await,
    }
}

/// Converts an op's result into a reply.
pub fn to_reply(result: OpResult) -> Reply {
    match result {
        OpResult::Ok => Reply::Ok,
        OpResult::Status(s) => Reply::Status(s),
        OpResult::Nil => Reply::Nil,
        OpResult::NilArray => Reply::NilArray,
        OpResult::Int(i) => Reply::Int(i),
        OpResult::Bulk(b) => Reply::Bulk(Bytes::from(b)),
        OpResult::Array(items) => Reply::Array(items.into_iter().map(to_reply).collect()),
        OpResult::Map(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (to_reply(k), to_reply(v)))
                .collect(),
        ),
        OpResult::Error(e) => Reply::Error(e),
    }
}

fn route_error(e: RouteError) -> Reply {
    Reply::Error(e.to_string())
}

/// The error for ops whose keys live in different ranges.
pub fn cross_range() -> Reply {
    Reply::Error("CROSSSLOT Keys in request don't belong to the same range".into())
}

/// Sends ops that all live in the range holding `anchor` and returns their results.
pub async fn run_in_range(
    ctx: &Context,
    anchor: &[u8],
    ops: Vec<Op>,
) -> Result<Vec<OpResult>, Reply> {
    ctx.cluster.execute(anchor, ops).await.map_err(route_error)
}
/// The start key of the range holding each key, or a cross-range error.
fn single_range(ctx: &Context, keys: &[&[u8]]) -> Result<Vec<u8>, Reply> {
    let catalog = ctx.cluster.catalog();
    let mut anchor: Option<Vec<u8>> = None;
    for key in keys {
        let start =
            Cluster::range_for(&catalog, key).map_or_else(|| key.to_vec(), |r| r.start.clone());
        match &anchor {
            Some(a) if *a != start => return Err(cross_range()),
            _ => anchor = Some(start),
        }
    }
    Ok(keys.first().map(|k| k.to_vec()).unwrap_or_default())
}

/// Runs one op: split per range when it can be, otherwise within one range.
async fn run_op(ctx: &Context, op: Op) -> Reply {
    match op {
        Op::MGet { .. } | Op::Del { .. } | Op::Exists { .. } | Op::MSet { .. } => {
            fan_out(ctx, op).await
        }
        op => {
            let anchor = match single_range(ctx, &op.keys()) {
                Ok(anchor) => anchor,
                Err(reply) => return reply,
            };
            match run_in_range(ctx, &anchor, vec![op]).await {
                Ok(mut results) => results.pop().map_or(Reply::err("empty reply"), to_reply),
                Err(reply) => reply,
            }
        }
    }
}

/// Splits a multi-key op by range, runs the parts in parallel and merges the results
/// (atomic per range, not across ranges).
async fn fan_out(ctx: &Context, op: Op) -> Reply {
    let catalog = ctx.cluster.catalog();
    let range_of = |key: &[u8]| {
        Cluster::range_for(&catalog, key).map_or_else(|| key.to_vec(), |r| r.start.clone())
    };
    // Per range: the positions (in the original key order) and the part of the op.
    let mut parts: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
    let keys: Vec<Vec<u8>> = op.keys().into_iter().map(<[u8]>::to_vec).collect();
    for (i, key) in keys.iter().enumerate() {
        parts.entry(range_of(key)).or_default().push(i);
    }
    let calls = parts.values().map(|positions| {
        let subset = |idx: &[usize]| idx.iter().map(|&i| keys[i].clone()).collect::<Vec<_>>();
        let part = match &op {
            Op::MGet { .. } => Op::MGet {
                keys: subset(positions),
            },
            Op::Del { .. } => Op::Del {
                keys: subset(positions),
            },
            Op::Exists { .. } => Op::Exists {
                keys: subset(positions),
            },
            Op::MSet { pairs } => Op::MSet {
                pairs: positions.iter().map(|&i| pairs[i].clone()).collect(),
            },
            other => other.clone(),
        };
        let anchor = keys[positions[0]].clone();
        async move { run_in_range(ctx, &anchor, vec![part]).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut values = vec![Reply::Nil; keys.len()];
    let mut total = 0;
    for (positions, result) in parts.values().zip(results) {
        match result.map(|mut r| r.pop()) {
            Ok(Some(OpResult::Int(n))) => total += n,
            Ok(Some(OpResult::Array(items))) => {
                for (&i, item) in positions.iter().zip(items) {
                    values[i] = to_reply(item);
                }
            }
            Ok(Some(OpResult::Ok)) => {}
            Ok(Some(other)) => return to_reply(other),
            Ok(None) => return Reply::err("empty reply"),
            Err(reply) => return reply,
        }
    }
    match op {
        Op::MGet { .. } => Reply::Array(values),
        Op::MSet { .. } => Reply::Ok,
        _ => Reply::Int(total),
    }
}

#[cfg(test)]
mod tests;

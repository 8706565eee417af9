//! What a command parses into, by how it runs — a known reply, a data op routed by its
//! keys, or a command type that runs against the connection's [`Session`] or the
//! cluster — and the session itself. The command table maps names to parsers of these.

use crate::clients::{ClientHandle, MonitorStream};
use crate::Context;
use bytes::Bytes;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::op::{Command, Op};
use tessera_proto::reply::Reply;
use tessera_proto::spec::CommandSpec;

/// Per-connection state.
pub struct Session {
    /// The client id.
    pub id: u64,
    /// What other connections see of this one (`CLIENT LIST`, `CLIENT KILL`).
    pub client: Arc<ClientHandle>,
    /// RESP version in use (2 or 3).
    pub proto: u8,
    /// Close after this reply (QUIT).
    pub quit: bool,
    /// Passed `AUTH` (or no password is configured).
    pub authenticated: bool,
    /// Commands queued since `MULTI`, parsed (a parse error answers at `EXEC`).
    pub multi: Option<Vec<Parsed>>,
    /// A command was refused while queueing: `EXEC` must abort.
    pub multi_failed: bool,
    /// Watched user keys and the version each had when watched.
    pub watches: Vec<(Bytes, Option<Bytes>)>,
    /// `CLIENT REPLY OFF`: no replies are sent.
    pub replies_off: bool,
    /// `CLIENT REPLY SKIP`: the next command's reply is not sent.
    pub skip_next_reply: bool,
    /// Set by `CLIENT REPLY` itself: whether its own reply is sent.
    pub reply_override: Option<bool>,
    /// `MONITOR`: the stream of commands this connection now forwards.
    pub monitor: Option<MonitorStream>,
}

impl Session {
    /// A fresh session for `client`.
    pub fn new(client: Arc<ClientHandle>, authenticated: bool) -> Self {
        client.set_name(None);
        client.resp.store(2, std::sync::atomic::Ordering::Relaxed);
        Self {
            id: client.id,
            client,
            proto: 2,
            quit: false,
            authenticated,
            multi: None,
            multi_failed: false,
            watches: Vec::new(),
            replies_off: false,
            skip_next_reply: false,
            reply_override: None,
            monitor: None,
        }
    }

    /// `CLIENT SETNAME`'s name.
    pub fn name(&self) -> Option<Bytes> {
        self.client.name()
    }

    /// Names the connection (an empty name clears it).
    pub fn set_name(&mut self, name: Bytes) {
        self.client.set_name((!name.is_empty()).then_some(name));
    }

    /// Switches the RESP version.
    pub fn set_proto(&mut self, proto: u8) {
        self.proto = proto;
        self.client
            .resp
            .store(proto, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A command ready to run.
pub enum Parsed {
    /// The reply is known already.
    Reply(Reply),
    /// A data op, routed by its keys.
    Op(Op),
    /// Runs on the connection's session alone, at once (PING, HELLO, MULTI, ...).
    Session(Box<dyn SessionCommand>),
    /// Needs the session and the cluster, after every earlier request of the
    /// connection has finished (WATCH, EXEC).
    Exclusive(Box<dyn ExclusiveCommand>),
    /// Runs against the cluster, not the session (SCAN, DBSIZE, CREATETABLE, ...).
    Cluster(Box<dyn ClusterCommand>),
}

/// A command that runs on the session alone.
pub trait SessionCommand: Send {
    /// Runs it.
    fn run(self: Box<Self>, ctx: &Context, session: &mut Session) -> Reply;
}

/// A command that needs the session and the cluster.
pub trait ExclusiveCommand: Send {
    /// Runs it.
    fn run<'a>(self: Box<Self>, ctx: &'a Context, session: &'a mut Session)
        -> BoxFuture<'a, Reply>;
}

/// A command that runs against the cluster.
pub trait ClusterCommand: Send {
    /// Runs it.
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply>;
}

/// One line of the command table: a command's spec and its parser.
pub struct Entry {
    /// What `COMMAND` says about it.
    pub spec: &'static CommandSpec,
    /// Its parser.
    pub parse: fn(&mut Args) -> Result<Parsed, Reply>,
}

/// The parser of a data command (its type parses into an op).
pub fn data<C: Command>(args: &mut Args) -> Result<Parsed, Reply>
where
    C::Parsed: Into<Op>,
{
    C::parse(args).map(|op| Parsed::Op(op.into()))
}

/// The parser of a router command (its type parses into a [`Parsed`] itself).
pub fn local<C: Command<Parsed = Parsed>>(args: &mut Args) -> Result<Parsed, Reply> {
    C::parse(args)
}

impl Parsed {
    /// A session command.
    pub fn session(command: impl SessionCommand + 'static) -> Self {
        Parsed::Session(Box::new(command))
    }

    /// A cluster command.
    pub fn cluster(command: impl ClusterCommand + 'static) -> Self {
        Parsed::Cluster(Box::new(command))
    }
}

/// The entry of command `name` (lower-case) in `table` (sorted by name).
pub fn find(table: &'static [Entry], name: &str) -> Option<&'static Entry> {
    table
        .binary_search_by(|e| e.spec.name.cmp(name))
        .ok()
        .map(|i| &table[i])
}

/// Declares the parser of a router command that takes no arguments: `$make` is the
/// [`Parsed`] it becomes.
macro_rules! no_args_command {
    ($name:ident: $spec:expr => $make:expr) => {
        impl tessera_proto::op::Command for $name {
            const SPEC: tessera_proto::spec::CommandSpec = $spec;
            type Parsed = $crate::cmd::Parsed;

            fn parse(
                _: &mut tessera_proto::args::Args,
            ) -> Result<$crate::cmd::Parsed, tessera_proto::reply::Reply> {
                Ok($make)
            }
        }
    };
}

pub(crate) use no_args_command;

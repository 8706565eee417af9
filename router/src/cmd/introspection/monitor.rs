//! `MONITOR`: the connection receives every command this router receives from then on.

use crate::cmd::kinds::no_args_command;
use crate::cmd::{Parsed, Session, SessionCommand};
use crate::Context;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `MONITOR`.
pub struct Monitor;

no_args_command!(Monitor: spec! {
    "monitor", 1, ["admin", "noscript", "loading", "stale"], (0, 0, 0), ["@admin", "@slow", "@dangerous"],
    "server", "1.0.0", "Listen for all requests received by the server in real time"
} => Parsed::session(Monitor));

impl SessionCommand for Monitor {
    fn run(self: Box<Self>, ctx: &Context, session: &mut Session) -> Reply {
        if session.monitor.is_none() {
            session.monitor = Some(ctx.clients.start_monitor());
        }
        Reply::Ok
    }
}

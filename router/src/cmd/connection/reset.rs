//! `RESET`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `RESET`: the session as new (protocol 2, no name, no transaction, authentication
/// required again if configured).
pub struct Reset;

no_args_command!(Reset: spec! {
    "reset", 1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), ["@fast", "@connection"],
    "connection", "6.2.0", "Reset the connection"
} => Parsed::session(Reset));

impl SessionCommand for Reset {
    fn run(self: Box<Self>, ctx: &Context, session: &mut Session) -> Reply {
        *session = Session::new(session.client.clone(), ctx.requirepass.is_none());
        Reply::Status("RESET".into())
    }
}

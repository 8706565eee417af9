//! `QUIT`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `QUIT`: `OK`, then the connection closes.
pub struct Quit;

no_args_command!(Quit: spec! {
    "quit", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), ["@fast", "@connection"],
    "connection", "1.0.0", "Close the connection"
} => Parsed::session(Quit));

impl SessionCommand for Quit {
    fn run(self: Box<Self>, _: &Context, session: &mut Session) -> Reply {
        session.quit = true;
        Reply::Ok
    }
}

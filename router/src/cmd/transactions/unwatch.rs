//! `UNWATCH`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `UNWATCH`: forgets the watched keys.
pub struct Unwatch;

no_args_command!(Unwatch: spec! {
    "unwatch", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), ["@fast", "@transaction"],
    "transactions", "2.2.0", "Forget about all watched keys"
} => Parsed::session(Unwatch));

impl SessionCommand for Unwatch {
    fn run(self: Box<Self>, _: &Context, session: &mut Session) -> Reply {
        session.watches.clear();
        Reply::Ok
    }
}

//! `DISCARD`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `DISCARD`: drops the queued commands and the watches.
pub struct Discard;

no_args_command!(Discard: spec! {
    "discard", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), ["@fast", "@transaction"],
    "transactions", "2.0.0", "Discard all commands issued after MULTI"
} => Parsed::session(Discard));

impl SessionCommand for Discard {
    fn run(self: Box<Self>, _: &Context, session: &mut Session) -> Reply {
        if session.multi.take().is_none() {
            return Reply::err("DISCARD without MULTI");
        }
        session.multi_failed = false;
        session.watches.clear();
        Reply::Ok
    }
}

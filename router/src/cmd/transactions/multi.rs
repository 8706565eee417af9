//! `MULTI`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `MULTI`: later commands are queued until `EXEC`.
pub struct Multi;

no_args_command!(Multi: spec! {
    "multi", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), ["@fast", "@transaction"],
    "transactions", "1.2.0", "Mark the start of a transaction block"
} => Parsed::session(Multi));

impl SessionCommand for Multi {
    fn run(self: Box<Self>, _: &Context, session: &mut Session) -> Reply {
        if session.multi.is_some() {
            return Reply::err("MULTI calls can not be nested");
        }
        session.multi = Some(Vec::new());
        session.multi_failed = false;
        Reply::Ok
    }
}

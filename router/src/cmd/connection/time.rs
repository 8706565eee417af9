//! `TIME`.

use crate::cmd::kinds::no_args_command;
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use tessera_proto::reply::Reply;
use tessera_proto::spec;

/// `TIME`: seconds and microseconds on this router's clock.
pub struct Time;

no_args_command!(Time: spec! {
    "time", 1, ["loading", "stale", "fast"], (0, 0, 0), ["@fast"],
    "server", "2.6.0", "Return the current server time"
} => Parsed::session(Time));

impl SessionCommand for Time {
    fn run(self: Box<Self>, ctx: &Context, _: &mut Session) -> Reply {
        let micros = ctx.clock.now_nanos() / 1_000;
        Reply::Array(vec![
            Reply::bulk((micros / 1_000_000).to_string()),
            Reply::bulk((micros % 1_000_000).to_string()),
        ])
    }
}

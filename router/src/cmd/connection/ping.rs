//! `PING [message]`.

use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use bytes::Bytes;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::{wrong_arity, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `PING`: `PONG`, or the message.
pub struct Ping(Option<Bytes>);

impl Command for Ping {
    const SPEC: CommandSpec = spec! {
        "ping", -1, ["fast"], (0, 0, 0), ["@fast", "@connection"],
        "connection", "1.0.0", "Ping the server"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let message = if args.is_empty() {
            None
        } else {
            Some(args.arg()?)
        };
        if !args.is_empty() {
            return Err(wrong_arity("ping"));
        }
        Ok(Parsed::session(Ping(message)))
    }
}

impl SessionCommand for Ping {
    fn run(self: Box<Self>, _: &Context, _: &mut Session) -> Reply {
        self.0.map_or(Reply::Status("PONG".into()), Reply::Bulk)
    }
}

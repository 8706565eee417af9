//! `ECHO message`.

use crate::cmd::Parsed;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `ECHO`: the message.
pub struct Echo;

impl Command for Echo {
    const SPEC: CommandSpec = spec! {
        "echo", 2, ["loading", "stale", "fast"], (0, 0, 0), ["@fast", "@connection"],
        "connection", "1.0.0", "Echo the given string"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(Parsed::Reply(Reply::Bulk(args.arg()?)))
    }
}

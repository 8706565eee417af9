//! `SELECT index`: Tessera has database 0 only.

use crate::cmd::Parsed;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `SELECT`.
pub struct Select;

impl Command for Select {
    const SPEC: CommandSpec = spec! {
        "select", 2, ["loading", "stale", "fast"], (0, 0, 0), ["@fast", "@connection"],
        "connection", "1.0.0", "Change the selected database for the current connection"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(Parsed::Reply(match args.int()? {
            0 => Reply::Ok,
            _ => Reply::err("DB index is out of range"),
        }))
    }
}

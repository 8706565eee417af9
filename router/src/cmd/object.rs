//! `OBJECT HELP` (answered here) and `OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key` (a
//! data op for the key's range).

use crate::cmd::Parsed;
use tessera_proto::args::Args;
use tessera_proto::commands::keyspace::{parse_object, OBJECT_HELP};
use tessera_proto::op::{Command, Op};
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `OBJECT <subcommand> ...`.
pub struct ObjectCmd;

impl Command for ObjectCmd {
    const SPEC: CommandSpec = spec! {
        "object", -2, [], (0, 0, 0), ["@slow"],
        "generic", "2.2.3", "A container for object introspection commands"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(match parse_object(args)? {
            Some(op) => Parsed::Op(Op::Object(op)),
            None => Parsed::Reply(Reply::Array(
                OBJECT_HELP
                    .iter()
                    .map(|line| Reply::Status((*line).into()))
                    .collect(),
            )),
        })
    }
}

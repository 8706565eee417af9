//! `SLOWLOG GET [count]|LEN|RESET|HELP`.

use super::{help, unknown_subcommand};
use crate::cmd::{Parsed, Session, SessionCommand};
use crate::Context;
use tessera_proto::args::Args;
use tessera_proto::number::parse_redis_int;
use tessera_proto::op::Command;
use tessera_proto::reply::{wrong_arity, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// A `SLOWLOG` subcommand.
pub enum Slowlog {
    /// `SLOWLOG GET [count]` (`None`: all).
    Get(Option<usize>),
    /// `SLOWLOG LEN`.
    Len,
    /// `SLOWLOG RESET`.
    Reset,
}

impl Command for Slowlog {
    const SPEC: CommandSpec = spec! {
        "slowlog", -2, [], (0, 0, 0), ["@slow"],
        "server", "2.2.12", "A container for slow log commands"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let raw = args.arg()?;
        let sub = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let rest = args.rest();
        let slowlog = match (sub.as_str(), rest.len()) {
            ("get", 0) => Slowlog::Get(Some(10)),
            ("get", 1) => match parse_redis_int(&rest[0]) {
                Some(-1) => Slowlog::Get(None),
                Some(n) if n >= 0 => Slowlog::Get(Some(n as usize)),
                _ => return Err(Reply::err("count should be greater than or equal to -1")),
            },
            ("get", _) => return Err(crate::cmd::subcommand_syntax_error("SLOWLOG", &raw)),
            ("len", 0) => Slowlog::Len,
            ("reset", 0) => Slowlog::Reset,
            ("help", 0) => {
                return Ok(Parsed::Reply(help(&[
                    "SLOWLOG <subcommand> [<arg> ...]. Subcommands are:",
                    "GET [<count>]",
                    "    The newest <count> entries of the slow log (default 10, -1 for all).",
                    "LEN",
                    "    The number of entries in the slow log.",
                    "RESET",
                    "    Empty the slow log.",
                    "HELP",
                    "    This text.",
                ])))
            }
            ("len" | "reset" | "help", _) => return Err(wrong_arity(&format!("slowlog|{sub}"))),
            _ => return Err(unknown_subcommand("SLOWLOG", &raw)),
        };
        Ok(Parsed::session(slowlog))
    }
}

impl SessionCommand for Slowlog {
    fn run(self: Box<Self>, ctx: &Context, _: &mut Session) -> Reply {
        let log = &ctx.stats.slowlog;
        match *self {
            Slowlog::Get(count) => log.get(count),
            Slowlog::Len => Reply::Int(log.len() as i64),
            Slowlog::Reset => {
                log.reset();
                Reply::Ok
            }
        }
    }
}

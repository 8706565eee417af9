//! `COMMAND [COUNT|LIST|INFO|DOCS|GETKEYS ...]`, from the command table.

use crate::cmd::Session;
use crate::cmd::{find, Entry, Parsed, SessionCommand};
use crate::Context;
use bytes::Bytes;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::{wrong_arity, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `COMMAND`: the subcommand as sent and its arguments (the table is the context's).
pub struct CommandCmd(Vec<Bytes>);

impl Command for CommandCmd {
    const SPEC: CommandSpec = spec! {
        "command", -1, ["loading", "stale"], (0, 0, 0), ["@slow", "@connection"],
        "server", "2.8.13", "Get array of Redis command details"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(Parsed::session(CommandCmd(args.rest())))
    }
}

impl SessionCommand for CommandCmd {
    fn run(self: Box<Self>, ctx: &Context, _: &mut Session) -> Reply {
        answer(ctx.commands, &self.0)
    }
}

fn answer(table: &'static [Entry], args: &[Bytes]) -> Reply {
    let specs = || table.iter().map(|e| e.spec);
    let Some((raw, rest)) = args.split_first() else {
        return Reply::Array(specs().map(info).collect());
    };
    let sub = String::from_utf8_lossy(raw).to_ascii_lowercase();
    let named = |names: &[Bytes]| -> Vec<(String, Option<&'static CommandSpec>)> {
        names
            .iter()
            .map(|a| {
                let name = String::from_utf8_lossy(a).to_ascii_lowercase();
                let spec = find(table, &name).map(|e| e.spec);
                (name, spec)
            })
            .collect()
    };
    match (sub.as_str(), rest.len()) {
        ("count", 0) => Reply::Int(table.len() as i64),
        ("list", 0) => Reply::Array(specs().map(|c| Reply::bulk(c.name)).collect()),
        ("info", 0) => Reply::Array(specs().map(info).collect()),
        ("info", _) => Reply::Array(
            named(rest)
                .into_iter()
                .map(|(_, s)| s.map_or(Reply::NilArray, info))
                .collect(),
        ),
        ("docs", 0) => Reply::Map(specs().map(|c| (Reply::bulk(c.name), docs(c))).collect()),
        ("docs", _) => Reply::Map(
            named(rest)
                .into_iter()
                .filter_map(|(name, s)| s.map(|s| (Reply::bulk(name), docs(s))))
                .collect(),
        ),
        ("getkeys", n) if n >= 2 => getkeys(table, rest),
        ("count" | "list" | "getkeys", _) => wrong_arity(&format!("command|{sub}")),
        _ => crate::cmd::unknown_subcommand("COMMAND", raw),
    }
}

fn info(spec: &CommandSpec) -> Reply {
    let statuses = |items: &[&str]| items.iter().map(|f| Reply::Status((*f).into())).collect();
    Reply::Array(vec![
        Reply::bulk(spec.name),
        Reply::Int(i64::from(spec.arity)),
        Reply::Set(statuses(spec.flags)),
        Reply::Int(i64::from(spec.first_key)),
        Reply::Int(i64::from(spec.last_key)),
        Reply::Int(i64::from(spec.step)),
        Reply::Set(statuses(spec.acl)),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

fn docs(spec: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("summary"), Reply::bulk(spec.summary)),
        (Reply::bulk("since"), Reply::bulk(spec.since)),
        (Reply::bulk("group"), Reply::bulk(spec.group)),
    ])
}

fn getkeys(table: &'static [Entry], call: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&call[0]).to_ascii_lowercase();
    let Some(spec) = find(table, &name).map(|e| e.spec) else {
        return Reply::err("Invalid command specified");
    };
    if !spec.arity_ok(call.len()) {
        return Reply::err("Invalid number of arguments specified for command");
    }
    match spec.keys(call) {
        Some(keys) if !keys.is_empty() => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        _ => Reply::err("The command has no key arguments"),
    }
}

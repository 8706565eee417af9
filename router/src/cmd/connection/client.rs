//! `CLIENT ID|GETNAME|SETNAME|SETINFO|INFO|LIST|NO-EVICT|NO-TOUCH`.

use super::valid_client_name;
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use bytes::Bytes;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::{syntax_error, wrong_arity, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// A `CLIENT` subcommand.
pub enum Client {
    /// `CLIENT ID`.
    Id,
    /// `CLIENT GETNAME`.
    GetName,
    /// `CLIENT SETNAME name`.
    SetName(Bytes),
    /// `CLIENT INFO`, `CLIENT LIST`: this connection.
    Info,
}

impl Command for Client {
    const SPEC: CommandSpec = spec! {
        "client", -2, [], (0, 0, 0), ["@slow"],
        "connection", "2.4.0", "A container for client connection commands"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let raw = args.arg()?;
        let sub = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let argc = args.remaining() + 2;
        let client = match (sub.as_str(), argc) {
            ("id", 2) => Client::Id,
            ("getname", 2) => Client::GetName,
            ("setname", 3) => {
                let name = args.arg()?;
                valid_client_name(&name)?;
                Client::SetName(name)
            }
            ("setinfo", 4) => {
                let attr = args.arg()?;
                if !attr.eq_ignore_ascii_case(b"lib-name") && !attr.eq_ignore_ascii_case(b"lib-ver")
                {
                    let attr = String::from_utf8_lossy(&attr);
                    return Err(Reply::err(format!("Unrecognized option '{attr}'")));
                }
                return Ok(Parsed::Reply(Reply::Ok));
            }
            ("info", 2) | ("list", _) => Client::Info,
            ("no-evict" | "no-touch", 3) => match args.option().as_deref() {
                Some("on" | "off") => return Ok(Parsed::Reply(Reply::Ok)),
                _ => return Err(syntax_error()),
            },
            ("id" | "getname" | "setname" | "setinfo" | "info" | "no-evict" | "no-touch", _) => {
                return Err(wrong_arity(&format!("client|{sub}")))
            }
            _ => {
                let sub = String::from_utf8_lossy(&raw);
                return Err(Reply::err(format!(
                    "unknown subcommand '{sub}'. Try CLIENT HELP."
                )));
            }
        };
        Ok(Parsed::session(client))
    }
}

impl SessionCommand for Client {
    fn run(self: Box<Self>, ctx: &Context, session: &mut Session) -> Reply {
        match *self {
            Client::Id => Reply::Int(session.id as i64),
            Client::GetName => session.name.clone().map_or(Reply::Nil, Reply::Bulk),
            Client::SetName(name) => {
                session.name = (!name.is_empty()).then_some(name);
                Reply::Ok
            }
            Client::Info => Reply::Verbatim(client_info(ctx, session)),
        }
    }
}

fn client_info(ctx: &Context, session: &Session) -> String {
    let name = session
        .name
        .as_ref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let multi = session.multi.as_ref().map_or(-1, |q| q.len() as i64);
    format!(
        "id={} addr=? laddr=127.0.0.1:{} fd=-1 name={} age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 \
         multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 \
         events=r cmd=client|info user=default redir=-1 resp={}\n",
        session.id, ctx.port, name, multi, session.proto
    )
}

//! `CLIENT ID|GETNAME|SETNAME|SETINFO|INFO|LIST|KILL|PAUSE|UNPAUSE|REPLY|NO-EVICT|NO-TOUCH`.
//! `LIST` and `KILL` see every connection of the router they are sent to.

use super::valid_client_name;
use crate::clients::{ClientHandle, Pause};
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use bytes::Bytes;
use std::time::{Duration, Instant};
use tessera_proto::args::Args;
use tessera_proto::number::parse_redis_int;
use tessera_proto::op::Command;
use tessera_proto::reply::{syntax_error, wrong_arity, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// Which connections `CLIENT KILL` closes; every given filter must match.
#[derive(Default)]
pub struct KillFilter {
    id: Option<u64>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    /// `TYPE` other than `normal`: no connection of a router matches.
    no_type_matches: bool,
    skip_me: bool,
    /// The old form, `CLIENT KILL addr:port`: `OK` or an error, not a count.
    old_form: bool,
}

impl KillFilter {
    fn matches(&self, client: &ClientHandle, me: u64) -> bool {
        !(self.no_type_matches
            || (self.skip_me && client.id == me)
            || self.id.is_some_and(|id| id != client.id)
            || self
                .addr
                .as_ref()
                .is_some_and(|a| a.as_ref() != client.addr.to_string().as_bytes())
            || self
                .laddr
                .as_ref()
                .is_some_and(|a| a.as_ref() != client.laddr.to_string().as_bytes()))
    }
}

/// A `CLIENT` subcommand.
pub enum Client {
    /// `CLIENT ID`.
    Id,
    /// `CLIENT GETNAME`.
    GetName,
    /// `CLIENT SETNAME name`.
    SetName(Bytes),
    /// `CLIENT INFO`: this connection.
    Info,
    /// `CLIENT LIST [TYPE normal] [ID id ...]`: every connection (or those named).
    List(Option<Vec<u64>>),
    /// `CLIENT KILL ...`.
    Kill(KillFilter),
    /// `CLIENT PAUSE timeout [WRITE|ALL]`.
    Pause(Duration, bool),
    /// `CLIENT UNPAUSE`.
    Unpause,
    /// `CLIENT REPLY ON|OFF|SKIP`.
    Reply(String),
}

fn unknown_type(kind: &[u8]) -> Reply {
    Reply::err(format!(
        "Unknown client type '{}'",
        String::from_utf8_lossy(kind)
    ))
}

/// `TYPE`'s argument: whether it names the connections a router has (`normal`).
fn client_type(kind: &[u8]) -> Result<bool, Reply> {
    match String::from_utf8_lossy(kind).to_ascii_lowercase().as_str() {
        "normal" => Ok(true),
        "master" | "slave" | "replica" | "pubsub" => Ok(false),
        _ => Err(unknown_type(kind)),
    }
}

fn parse_list(args: &mut Args) -> Result<Client, Reply> {
    let mut ids = None;
    let mut only_none = false;
    while let Some(option) = args.option() {
        match option.as_str() {
            "type" if !args.is_empty() => only_none |= !client_type(&args.arg()?)?,
            "id" if !args.is_empty() => {
                let mut wanted = Vec::new();
                while !args.is_empty() {
                    match parse_redis_int(&args.arg()?) {
                        Some(id) => wanted.push(id.max(0) as u64),
                        None => return Err(Reply::err("Invalid client ID")),
                    }
                }
                ids = Some(wanted);
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok(Client::List(if only_none { Some(Vec::new()) } else { ids }))
}

fn parse_kill(args: &mut Args) -> Result<Client, Reply> {
    if args.remaining() == 1 {
        let addr = args.arg()?;
        return Ok(Client::Kill(KillFilter {
            addr: Some(addr),
            old_form: true,
            ..KillFilter::default()
        }));
    }
    if !args.remaining().is_multiple_of(2) {
        return Err(syntax_error());
    }
    let mut filter = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    while let Some(option) = args.option() {
        let value = args.arg()?;
        match option.as_str() {
            "id" => match parse_redis_int(&value) {
                Some(id) if id > 0 => filter.id = Some(id as u64),
                _ => return Err(Reply::err("client-id should be greater than 0")),
            },
            "type" => filter.no_type_matches |= !client_type(&value)?,
            "addr" => filter.addr = Some(value),
            "laddr" => filter.laddr = Some(value),
            "user" if value.as_ref() == b"default" => {}
            "user" => {
                let user = String::from_utf8_lossy(&value);
                return Err(Reply::err(format!("No such user '{user}'")));
            }
            "skipme" if value.eq_ignore_ascii_case(b"yes") => filter.skip_me = true,
            "skipme" if value.eq_ignore_ascii_case(b"no") => filter.skip_me = false,
            _ => return Err(syntax_error()),
        }
    }
    Ok(Client::Kill(filter))
}

fn parse_pause(args: &mut Args) -> Result<Client, Reply> {
    let timeout = match parse_redis_int(&args.arg()?) {
        Some(ms) if ms < 0 => return Err(Reply::err("timeout is negative")),
        Some(ms) => Duration::from_millis(ms as u64),
        None => return Err(Reply::err("timeout is not an integer or out of range")),
    };
    let writes_only = match args.option().as_deref() {
        None | Some("all") => false,
        Some("write") => true,
        Some(_) => return Err(Reply::err("CLIENT PAUSE mode must be WRITE or ALL")),
    };
    if !args.is_empty() {
        return Err(syntax_error());
    }
    Ok(Client::Pause(timeout, writes_only))
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
            ("info", 2) => Client::Info,
            ("list", _) => parse_list(args)?,
            ("kill", 3..) => parse_kill(args)?,
            ("pause", 3 | 4) => parse_pause(args)?,
            ("pause", 5..) => return Err(crate::cmd::subcommand_syntax_error("CLIENT", &raw)),
            ("unpause", 2) => Client::Unpause,
            ("reply", 3) => match args.option().as_deref() {
                Some(mode @ ("on" | "off" | "skip")) => Client::Reply(mode.to_string()),
                _ => return Err(syntax_error()),
            },
            ("no-evict" | "no-touch", 3) => match args.option().as_deref() {
                Some("on" | "off") => return Ok(Parsed::Reply(Reply::Ok)),
                _ => return Err(syntax_error()),
            },
            (
                "id" | "getname" | "setname" | "setinfo" | "info" | "kill" | "pause" | "unpause"
                | "reply" | "no-evict" | "no-touch",
                _,
            ) => return Err(wrong_arity(&format!("client|{sub}"))),
            ("tracking" | "trackinginfo" | "getredir" | "caching" | "unblock", _) => {
                return Err(Reply::err(format!(
                    "CLIENT {} is not supported by Tessera",
                    sub.to_ascii_uppercase()
                )))
            }
            _ => return Err(crate::cmd::unknown_subcommand("CLIENT", &raw)),
        };
        Ok(Parsed::session(client))
    }
}

impl SessionCommand for Client {
    fn run(self: Box<Self>, ctx: &Context, session: &mut Session) -> Reply {
        match *self {
            Client::Id => Reply::Int(session.id as i64),
            Client::GetName => session.name().map_or(Reply::Nil, Reply::Bulk),
            Client::SetName(name) => {
                session.set_name(name);
                Reply::Ok
            }
            Client::Info => Reply::Verbatim(line(session, &session.client)),
            Client::List(ids) => {
                let text: String = ctx
                    .clients
                    .list()
                    .iter()
                    .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
                    .map(|c| line(session, c))
                    .collect();
                Reply::Verbatim(text)
            }
            Client::Kill(filter) => kill(ctx, session, &filter),
            Client::Pause(timeout, writes_only) => {
                ctx.clients.pause(Pause {
                    until: Instant::now() + timeout,
                    writes_only,
                });
                Reply::Ok
            }
            Client::Unpause => {
                ctx.clients.unpause();
                Reply::Ok
            }
            Client::Reply(mode) => {
                match mode.as_str() {
                    "on" => {
                        session.replies_off = false;
                        session.reply_override = Some(true);
                    }
                    "off" => {
                        session.replies_off = true;
                        session.reply_override = Some(false);
                    }
                    _ => {
                        session.skip_next_reply = true;
                        session.reply_override = Some(false);
                    }
                }
                Reply::Ok
            }
        }
    }
}

/// A connection's `CLIENT LIST` line (its MULTI queue is known only for the asker's).
fn line(session: &Session, client: &ClientHandle) -> String {
    let mine = client.id == session.id;
    let multi = match &session.multi {
        Some(queue) if mine => queue.len() as i64,
        _ => -1,
    };
    let flags = if mine && session.multi.is_some() {
        "x"
    } else {
        "N"
    };
    client.info_line(multi, flags)
}

fn kill(ctx: &Context, session: &mut Session, filter: &KillFilter) -> Reply {
    let mut killed = 0;
    for client in ctx.clients.list() {
        if filter.matches(&client, session.id) {
            killed += 1;
            if client.id == session.id {
                session.quit = true; // After this reply, as Redis closes it.
            } else {
                client.kill.cancel();
            }
        }
    }
    match (filter.old_form, killed) {
        (true, 0) => Reply::err("No such client"),
        (true, _) => Reply::Ok,
        (false, n) => Reply::Int(n),
    }
}

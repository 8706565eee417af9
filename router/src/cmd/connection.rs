//! Commands answered from the session alone: PING, ECHO, HELLO, AUTH, SELECT, QUIT,
//! RESET, CLIENT, COMMAND, MULTI, DISCARD, UNWATCH, TIME, CONFIG.

use super::{
    lookup, parse_int, syntax_error, transactions, wrong_arity, CommandSpec, Session, COMMANDS,
};
use crate::reply::Reply;
use crate::{Context, REDIS_VERSION};
use bytes::Bytes;

/// Runs `name` if it is a session command; `None` otherwise.
pub fn run(ctx: &Context, session: &mut Session, name: &str, args: &[Bytes]) -> Option<Reply> {
    Some(match name {
        "ping" => ping(args),
        "echo" => Reply::Bulk(args[1].clone()),
        "hello" => hello(ctx, session, args),
        "auth" => auth(ctx, session, args),
        "select" => select(args),
        "quit" => {
            session.quit = true;
            Reply::Ok
        }
        "reset" => {
            *session = Session::new(session.id, ctx.requirepass.is_none());
            Reply::Status("RESET".into())
        }
        "client" => client(ctx, session, args),
        "command" => command(args),
        "multi" => transactions::multi(session),
        "discard" => transactions::discard(session),
        "unwatch" => {
            session.watches.clear();
            Reply::Ok
        }
        "time" => time(),
        "config" => config(ctx, args),
        _ => return None,
    })
}

fn ping(args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Reply::Status("PONG".into()),
        2 => Reply::Bulk(args[1].clone()),
        _ => wrong_arity("ping"),
    }
}

fn select(args: &[Bytes]) -> Reply {
    match parse_int(&args[1]) {
        Ok(0) => Reply::Ok,
        Ok(_) => Reply::err("DB index is out of range"),
        Err(e) => e,
    }
}

fn time() -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk(now.as_secs().to_string()),
        Reply::bulk(now.subsec_micros().to_string()),
    ])
}

/// Checks a password against `--requirepass`.
fn check_password(ctx: &Context, user: &[u8], password: &[u8]) -> Result<(), Reply> {
    match &ctx.requirepass {
        Some(expected) if user == b"default" && password == expected.as_bytes() => Ok(()),
        _ => Err(Reply::Error(
            "WRONGPASS invalid username-password pair or user is disabled.".into(),
        )),
    }
}

fn auth(ctx: &Context, session: &mut Session, args: &[Bytes]) -> Reply {
    let (user, password) = match args.len() {
        2 => (&b"default"[..], &args[1]),
        3 => (&args[1][..], &args[2]),
        _ => return syntax_error(),
    };
    if ctx.requirepass.is_none() && args.len() == 2 {
        return Reply::err(
            "AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        );
    }
    if ctx.requirepass.is_none() {
        session.authenticated = true;
        return Reply::Ok;
    }
    match check_password(ctx, user, password) {
        Ok(()) => {
            session.authenticated = true;
            Reply::Ok
        }
        Err(reply) => reply,
    }
}

fn hello(ctx: &Context, session: &mut Session, args: &[Bytes]) -> Reply {
    let mut proto = session.proto;
    if let Some(ver) = args.get(1) {
        match parse_int(ver) {
            Ok(v @ (2 | 3)) => proto = v as u8,
            Ok(_) => return Reply::Error("NOPROTO unsupported protocol version".into()),
            Err(_) => return Reply::err("Protocol version is not an integer or out of range"),
        }
    }
    let (mut name, mut credentials) = (None, None);
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        match args[i].to_ascii_lowercase().as_slice() {
            b"auth" if more >= 2 => {
                credentials = Some((args[i + 1].clone(), args[i + 2].clone()));
                i += 3;
            }
            b"setname" if more >= 1 => {
                name = Some(args[i + 1].clone());
                i += 2;
            }
            _ => {
                let opt = String::from_utf8_lossy(&args[i]);
                return Reply::err(format!("Syntax error in HELLO option '{opt}'"));
            }
        }
    }
    if let Some((user, password)) = credentials {
        if ctx.requirepass.is_some() {
            if let Err(reply) = check_password(ctx, &user, &password) {
                return reply;
            }
        }
        session.authenticated = true;
    }
    if !session.authenticated {
        return Reply::Error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time"
                .into(),
        );
    }
    if let Some(name) = name {
        if let Err(reply) = valid_client_name(&name) {
            return reply;
        }
        session.name = (!name.is_empty()).then_some(name);
    }
    session.proto = proto;
    Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
        (Reply::bulk("proto"), Reply::Int(i64::from(proto))),
        (Reply::bulk("id"), Reply::Int(session.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(Vec::new())),
    ])
}

fn valid_client_name(name: &[u8]) -> Result<(), Reply> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Reply::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
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

fn client(ctx: &Context, session: &mut Session, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let argc = args.len();
    match (sub.as_str(), argc) {
        ("id", 2) => Reply::Int(session.id as i64),
        ("getname", 2) => session.name.clone().map_or(Reply::Nil, Reply::Bulk),
        ("setname", 3) => match valid_client_name(&args[2]) {
            Ok(()) => {
                session.name = (!args[2].is_empty()).then(|| args[2].clone());
                Reply::Ok
            }
            Err(reply) => reply,
        },
        ("setinfo", 4) => {
            let attr = args[2].to_ascii_lowercase();
            if attr == b"lib-name" || attr == b"lib-ver" {
                Reply::Ok
            } else {
                Reply::err(format!(
                    "Unrecognized option '{}'",
                    String::from_utf8_lossy(&args[2])
                ))
            }
        }
        ("info", 2) => Reply::Verbatim(client_info(ctx, session)),
        ("list", _) => Reply::Verbatim(client_info(ctx, session)),
        ("no-evict" | "no-touch", 3) => match args[2].to_ascii_lowercase().as_slice() {
            b"on" | b"off" => Reply::Ok,
            _ => syntax_error(),
        },
        ("id" | "getname" | "setname" | "setinfo" | "info" | "no-evict" | "no-touch", _) => {
            wrong_arity(&format!("client|{sub}"))
        }
        _ => Reply::err(format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    }
}

fn command_info(spec: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(spec.name),
        Reply::Int(i64::from(spec.arity)),
        Reply::Set(
            spec.flags
                .iter()
                .map(|f| Reply::Status((*f).into()))
                .collect(),
        ),
        Reply::Int(i64::from(spec.first_key)),
        Reply::Int(i64::from(spec.last_key)),
        Reply::Int(i64::from(spec.step)),
        Reply::Set(
            spec.acl
                .iter()
                .map(|c| Reply::Status((*c).into()))
                .collect(),
        ),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

fn command_docs(spec: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("summary"), Reply::bulk(spec.summary)),
        (Reply::bulk("since"), Reply::bulk(spec.since)),
        (Reply::bulk("group"), Reply::bulk(spec.group)),
    ])
}

fn named_specs(names: &[Bytes]) -> Vec<(String, Option<&'static CommandSpec>)> {
    names
        .iter()
        .map(|a| {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            let spec = lookup(&name);
            (name, spec)
        })
        .collect()
}

fn command_getkeys(args: &[Bytes]) -> Reply {
    let Some(spec) = lookup(&String::from_utf8_lossy(&args[2]).to_ascii_lowercase()) else {
        return Reply::err("Invalid command specified");
    };
    let call = &args[2..];
    let argc = call.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity) {
        return Reply::err("Invalid number of arguments specified for command");
    }
    match spec.keys(call) {
        Some(keys) if !keys.is_empty() => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        _ => Reply::err("The command has no key arguments"),
    }
}

fn command(args: &[Bytes]) -> Reply {
    let Some(sub) = args.get(1) else {
        return Reply::Array(COMMANDS.iter().map(command_info).collect());
    };
    match (sub.to_ascii_lowercase().as_slice(), args.len()) {
        (b"count", 2) => Reply::Int(COMMANDS.len() as i64),
        (b"list", 2) => Reply::Array(COMMANDS.iter().map(|c| Reply::bulk(c.name)).collect()),
        (b"info", 2) => Reply::Array(COMMANDS.iter().map(command_info).collect()),
        (b"info", _) => Reply::Array(
            named_specs(&args[2..])
                .into_iter()
                .map(|(_, s)| s.map_or(Reply::NilArray, command_info))
                .collect(),
        ),
        (b"docs", 2) => Reply::Map(
            COMMANDS
                .iter()
                .map(|c| (Reply::bulk(c.name), command_docs(c)))
                .collect(),
        ),
        (b"docs", _) => Reply::Map(
            named_specs(&args[2..])
                .into_iter()
                .filter_map(|(name, s)| s.map(|s| (Reply::bulk(name), command_docs(s))))
                .collect(),
        ),
        (b"getkeys", n) if n >= 4 => command_getkeys(args),
        (b"count" | b"list" | b"getkeys", _) => wrong_arity(&format!(
            "command|{}",
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        )),
        _ => Reply::err(format!(
            "unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(sub)
        )),
    }
}

/// `CONFIG SET name value [name value ...]`: only `maxclients` can change at run time;
/// nothing changes unless every pair is accepted.
fn config_set(ctx: &Context, pairs: &[Bytes]) -> Reply {
    let mut max_clients = None;
    for pair in pairs.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        match name.as_str() {
            "maxclients" => match super::parse_int(&pair[1]) {
                Ok(n) if n >= 1 => max_clients = Some(n as usize),
                _ => {
                    return Reply::err(format!(
                        "CONFIG SET failed (possibly related to argument '{name}') - argument couldn't be parsed into an integer"
                    ))
                }
            },
            _ if config_params(ctx).iter().any(|(p, _)| *p == name) => {
                return Reply::err(format!(
                    "CONFIG SET failed (possibly related to argument '{name}') - Tessera cannot change it at run time"
                ))
            }
            _ => return Reply::err(format!("Unknown option or number of arguments for CONFIG SET - '{name}'")),
        }
    }
    if let Some(n) = max_clients {
        ctx.max_clients
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }
    Reply::Ok
}

/// Configuration parameters `CONFIG GET` reports, with Tessera's values.
fn config_params(ctx: &Context) -> Vec<(&'static str, String)> {
    vec![
        ("appendonly", "yes".into()),
        ("databases", "1".into()),
        ("max-value-bytes", ctx.max_value_bytes.to_string()),
        (
            "maxclients",
            ctx.max_clients
                .load(std::sync::atomic::Ordering::Relaxed)
                .to_string(),
        ),
        ("maxmemory", "0".into()),
        ("maxmemory-policy", "noeviction".into()),
        ("port", ctx.port.to_string()),
        ("proto-max-bulk-len", ctx.max_bulk_bytes.to_string()),
        ("requirepass", ctx.requirepass.clone().unwrap_or_default()),
        ("save", String::new()),
        ("timeout", "0".into()),
    ]
}

fn config(ctx: &Context, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "get" if args.len() >= 3 => {
            let params = config_params(ctx);
            let mut out = Vec::new();
            for (name, value) in &params {
                if args[2..]
                    .iter()
                    .any(|p| crate::glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
                {
                    out.push((Reply::bulk(*name), Reply::bulk(value.clone())));
                }
            }
            Reply::Map(out)
        }
        "set" if args.len() >= 4 && args.len().is_multiple_of(2) => config_set(ctx, &args[2..]),
        "resetstat" if args.len() == 2 => Reply::Ok,
        "get" | "set" | "resetstat" => wrong_arity(&format!("config|{sub}")),
        _ => Reply::err(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    }
}

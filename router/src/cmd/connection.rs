//! Connection and server commands: PING, ECHO, HELLO, QUIT, SELECT, CLIENT, COMMAND, INFO.

use super::{lookup, parse_int, syntax_error, wrong_arity, Session, COMMANDS};
use crate::reply::Reply;
use crate::{Context, REDIS_VERSION};
use bytes::Bytes;

pub fn ping(args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Reply::Status("PONG".into()),
        2 => Reply::Bulk(args[1].clone()),
        _ => wrong_arity("ping"),
    }
}

pub fn select(args: &[Bytes]) -> Reply {
    match parse_int(&args[1]) {
        Ok(0) => Reply::Ok,
        Ok(_) => Reply::err("DB index is out of range"),
        Err(_) => Reply::err("value is not an integer or out of range"),
    }
}

pub fn hello(session: &mut Session, args: &[Bytes]) -> Reply {
    let mut proto = session.proto;
    if let Some(ver) = args.get(1) {
        match parse_int(ver) {
            Ok(v @ (2 | 3)) => proto = v as u8,
            Ok(_) => return Reply::Error("NOPROTO unsupported protocol version".into()),
            Err(_) => return Reply::err("Protocol version is not an integer or out of range"),
        }
    }
    let mut i = 2;
    while i < args.len() {
        let opt = args[i].to_ascii_lowercase();
        let more = args.len() - i - 1;
        match opt.as_slice() {
            b"setname" if more >= 1 => {
                session.name = Some(args[i + 1].clone());
                i += 2;
            }
            b"auth" if more >= 2 => i += 3,
            _ => {
                return Reply::err(format!(
                    "Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args[i])
                ))
            }
        }
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

pub fn client(session: &mut Session, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("id", 2) => Reply::Int(session.id as i64),
        ("getname", 2) => session.name.clone().map_or(Reply::Nil, Reply::Bulk),
        ("setname", 3) => {
            if args[2].iter().any(|&b| b <= b' ' || b > b'~') {
                return Reply::err(
                    "Client names cannot contain spaces, newlines or special characters.",
                );
            }
            session.name = (!args[2].is_empty()).then(|| args[2].clone());
            Reply::Ok
        }
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
        ("id" | "getname" | "setname" | "setinfo", _) => wrong_arity(&format!("client|{sub}")),
        _ => Reply::err(format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    }
}

fn command_info(spec: &super::CommandSpec) -> Reply {
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
        Reply::Set(Vec::new()),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

fn command_docs(spec: &super::CommandSpec) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("summary"), Reply::bulk(spec.summary)),
        (Reply::bulk("since"), Reply::bulk("1.0.0")),
        (Reply::bulk("group"), Reply::bulk(spec.group)),
    ])
}

fn requested<'a>(
    args: &'a [Bytes],
) -> Box<dyn Iterator<Item = (String, Option<&'static super::CommandSpec>)> + 'a> {
    if args.len() > 2 {
        Box::new(args[2..].iter().map(|a| {
            let name = String::from_utf8_lossy(a).to_ascii_lowercase();
            let spec = lookup(&name);
            (name, spec)
        }))
    } else {
        Box::new(COMMANDS.iter().map(|c| (c.name.to_string(), Some(c))))
    }
}

pub fn command(args: &[Bytes]) -> Reply {
    let Some(sub) = args.get(1) else {
        return Reply::Array(COMMANDS.iter().map(command_info).collect());
    };
    match sub.to_ascii_lowercase().as_slice() {
        b"count" if args.len() == 2 => Reply::Int(COMMANDS.len() as i64),
        b"list" if args.len() == 2 => {
            Reply::Array(COMMANDS.iter().map(|c| Reply::bulk(c.name)).collect())
        }
        b"info" => Reply::Array(
            requested(args)
                .map(|(_, s)| s.map_or(Reply::NilArray, command_info))
                .collect(),
        ),
        b"docs" => Reply::Map(
            requested(args)
                .filter_map(|(name, s)| s.map(|s| (Reply::bulk(name), command_docs(s))))
                .collect(),
        ),
        b"count" | b"list" => syntax_error(),
        _ => Reply::err(format!(
            "unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(sub)
        )),
    }
}

pub async fn info(ctx: &Context, args: &[Bytes]) -> Reply {
    let wanted: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| w == "all" || w == "everything" || w == "default");
    let want = |s: &str| all || wanted.iter().any(|w| w == s);
    let mut out = String::new();
    if want("server") {
        out.push_str(&format!(
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:{}\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nexecutable:tessera\r\n\r\n",
            std::env::consts::OS,
            usize::BITS,
            std::process::id(),
            ctx.port,
            ctx.started.elapsed().as_secs(),
        ));
    }
    if want("clients") {
        out.push_str(&format!(
            "# Clients\r\nconnected_clients:{}\r\n\r\n",
            ctx.connected()
        ));
    }
    if want("cluster") {
        out.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
    }
    if want("keyspace") {
        out.push_str("# Keyspace\r\n");
        if let Ok(keys) = super::keyspace::count_keys(ctx).await {
            if keys > 0 {
                out.push_str(&format!("db0:keys={keys},expires=0,avg_ttl=0\r\n"));
            }
        }
        out.push_str("\r\n");
    }
    if want("tessera") {
        let catalog = ctx.cluster.catalog();
        out.push_str(&format!(
            "# Tessera\r\ncatalog_version:{}\r\nnodes:{}\r\ntables:{}\r\nranges:{}\r\ngroups:{}\r\n\r\n",
            catalog.version,
            catalog.nodes.len(),
            catalog.tables.len(),
            catalog.ranges.len(),
            catalog.groups.len()
        ));
    }
    let text = out.trim_end_matches("\r\n").to_string() + "\r\n";
    Reply::Verbatim(text)
}
